-- The built-in SMART App Launch authorization server (fhir-server/src/auth). Times here are Unix
-- seconds, the unit of JWT claims, unlike the microseconds of the resource store. Codes, refresh
-- tokens, launch ids and client secrets are stored as SHA-256 hashes (smart_auth::hash_secret):
-- a copy of the database gives no usable credential. Signing keys are the exception and make
-- this table as sensitive as a key file.

-- Signing keys: the newest unretired key of each algorithm signs; every unretired one verifies.
CREATE TABLE auth_signing_key (
    kid             TEXT PRIMARY KEY,       -- RFC 7638 thumbprint, rechecked on load
    alg             TEXT    NOT NULL,       -- ES384, RS384 (access tokens) or RS256 (ID tokens)
    private_key_pem TEXT    NOT NULL,       -- PKCS#8
    created_at      BIGINT  NOT NULL,
    retired_at      BIGINT                  -- out of the key set (neither signs nor verifies)
);

CREATE TABLE auth_client (
    client_id     TEXT PRIMARY KEY,
    name          TEXT    NOT NULL,
    client_type   TEXT    NOT NULL,         -- public | confidential-symmetric | confidential-asymmetric
    secret_hash   TEXT,                     -- confidential-symmetric
    jwks          TEXT,                     -- confidential-asymmetric: a JWK Set document ...
    jwks_url      TEXT,                     -- ... or where to fetch it
    redirect_uris TEXT    NOT NULL,         -- JSON array, matched exactly
    scopes        TEXT    NOT NULL,         -- space-separated scopes the client may be granted
    launch_url    TEXT,                     -- where an EHR launch sends the browser
    created_at    BIGINT  NOT NULL
);

CREATE TABLE auth_user (
    username      TEXT PRIMARY KEY,
    sub           TEXT    NOT NULL UNIQUE,  -- stable subject of tokens, kept when a name is reused
    password_hash TEXT    NOT NULL,         -- Argon2id PHC string
    fhir_user     TEXT,                     -- Practitioner/123, Patient/123, ...
    created_at    BIGINT  NOT NULL
);

-- EHR launch contexts: the `launch` value an app receives (hashed) and what it stands for.
CREATE TABLE auth_launch (
    launch_hash TEXT PRIMARY KEY,
    client_id   TEXT    NOT NULL,
    patient     TEXT,
    encounter   TEXT,
    username    TEXT,                       -- only this user may sign in for the launch
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    used_at     BIGINT                      -- consumed when its authorization code is issued
);

-- Authorization requests between /authorize and the code: the browser carries `id` and the form
-- token (hashed here) through the login, patient and consent pages.
CREATE TABLE auth_request (
    id              TEXT PRIMARY KEY,
    form_token_hash TEXT    NOT NULL,
    stage           TEXT    NOT NULL,       -- login | patient | consent
    client_id       TEXT    NOT NULL,
    redirect_uri    TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    scope           TEXT    NOT NULL,       -- requested and allowed for the client
    code_challenge  TEXT    NOT NULL,
    nonce           TEXT,
    launch_hash     TEXT,
    username        TEXT,
    patient         TEXT,
    encounter       TEXT,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL
);

-- Authorization codes: single use. The row outlives its use so a second use can revoke what the
-- first issued (everything sharing grant_id).
CREATE TABLE auth_code (
    code_hash      TEXT PRIMARY KEY,
    grant_id       TEXT    NOT NULL,
    client_id      TEXT    NOT NULL,
    redirect_uri   TEXT    NOT NULL,
    code_challenge TEXT    NOT NULL,
    scope          TEXT    NOT NULL,
    username       TEXT    NOT NULL,
    patient        TEXT,
    encounter      TEXT,
    nonce          TEXT,
    created_at     BIGINT  NOT NULL,
    expires_at     BIGINT  NOT NULL,
    used_at        BIGINT
);

-- Refresh tokens: each use rotates the token (used_at set, a successor issued with the same
-- grant_id); presenting a used one revokes the whole grant.
CREATE TABLE auth_refresh_token (
    token_hash TEXT PRIMARY KEY,
    grant_id   TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    username   TEXT    NOT NULL,
    scope      TEXT    NOT NULL,            -- as originally granted: a refresh may narrow, never widen
    patient    TEXT,
    encounter  TEXT,
    offline    BOOLEAN NOT NULL,            -- offline_access (sliding expiry) or online_access (fixed)
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    used_at    BIGINT,
    revoked_at BIGINT
);
CREATE INDEX auth_refresh_token_grant ON auth_refresh_token (grant_id);

-- Access tokens issued, by jti: for introspection and revocation.
CREATE TABLE auth_access_token (
    jti        TEXT PRIMARY KEY,
    grant_id   TEXT,                        -- NULL for client_credentials
    client_id  TEXT    NOT NULL,
    sub        TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    issued_at  BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX auth_access_token_grant ON auth_access_token (grant_id);
CREATE INDEX auth_access_token_revoked ON auth_access_token (revoked_at);

-- Client assertion ids seen, until they expire: a jti is accepted once per client (SMART req 336).
CREATE TABLE auth_assertion_jti (
    client_id  TEXT   NOT NULL,
    jti        TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
