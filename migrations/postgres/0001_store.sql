-- Current versions live apart from history so reads and index joins never scan old versions.
-- Times are microseconds since the Unix epoch (UTC) on both backends, so comparisons are identical.
CREATE TABLE resource (
    rid           BIGSERIAL PRIMARY KEY,
    res_type      TEXT    NOT NULL,
    res_id        TEXT    NOT NULL,
    version       BIGINT  NOT NULL,
    last_updated  BIGINT  NOT NULL,
    deleted       BOOLEAN NOT NULL,
    content       JSONB,
    -- The exact JSON text, kept only when JSONB would alter it: JSONB rewrites exponent-notation
    -- numbers (1.0E+245) in plain notation and so changes a FHIR decimal's precision.
    content_text  TEXT,
    UNIQUE (res_type, res_id)
);
CREATE INDEX resource_type_updated ON resource (res_type, last_updated);

-- Every version, tombstones included; seq orders system-wide history.
CREATE TABLE resource_history (
    seq           BIGSERIAL PRIMARY KEY,
    rid           BIGINT  NOT NULL,
    res_type      TEXT    NOT NULL,
    res_id        TEXT    NOT NULL,
    version       BIGINT  NOT NULL,
    last_updated  BIGINT  NOT NULL,
    deleted       BOOLEAN NOT NULL,
    method        TEXT    NOT NULL,
    content       JSONB,
    content_text  TEXT,
    UNIQUE (res_type, res_id, version)
);
CREATE INDEX resource_history_type_seq ON resource_history (res_type, seq);
CREATE INDEX resource_history_updated ON resource_history (last_updated);

-- Search index: one table per value kind, rows only for current, non-deleted versions.
CREATE TABLE idx_string (
    rid BIGINT NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL,
    value_norm TEXT COLLATE "C" NOT NULL,  -- case- and accent-folded; byte order so prefix ranges work
    value_exact TEXT NOT NULL
);
CREATE INDEX idx_string_lookup ON idx_string (res_type, param, value_norm);
CREATE INDEX idx_string_rid ON idx_string (rid);

CREATE TABLE idx_token (
    rid BIGINT NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL,
    system TEXT, code TEXT,
    text_norm TEXT COLLATE "C",    -- folded display / CodeableConcept.text, for :text
    type_system TEXT, type_code TEXT  -- Identifier.type, for :of-type
);
CREATE INDEX idx_token_code ON idx_token (res_type, param, code, system);
CREATE INDEX idx_token_rid ON idx_token (rid);

CREATE TABLE idx_reference (
    rid BIGINT NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL,
    target_type TEXT, target_id TEXT, target_version TEXT,
    url TEXT,                      -- absolute or canonical reference as written (canonical without |version)
    ident_system TEXT, ident_value TEXT  -- Reference.identifier, for :identifier
);
CREATE INDEX idx_reference_target ON idx_reference (target_id, target_type, param);
CREATE INDEX idx_reference_rid ON idx_reference (rid);

CREATE TABLE idx_date (
    rid BIGINT NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL,
    low BIGINT NOT NULL, high BIGINT NOT NULL   -- inclusive precision range, microseconds UTC
);
CREATE INDEX idx_date_lookup ON idx_date (res_type, param, low, high);
CREATE INDEX idx_date_rid ON idx_date (rid);

CREATE TABLE idx_number (
    rid BIGINT NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL, low DOUBLE PRECISION NOT NULL, high DOUBLE PRECISION NOT NULL
);
CREATE INDEX idx_number_lookup ON idx_number (res_type, param, value);
CREATE INDEX idx_number_rid ON idx_number (rid);

CREATE TABLE idx_quantity (
    rid BIGINT NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL, low DOUBLE PRECISION NOT NULL, high DOUBLE PRECISION NOT NULL,
    system TEXT, code TEXT, unit TEXT,
    canon_value DOUBLE PRECISION, canon_code TEXT   -- UCUM-canonical form, when convertible
);
CREATE INDEX idx_quantity_lookup ON idx_quantity (res_type, param, code, value);
CREATE INDEX idx_quantity_rid ON idx_quantity (rid);

CREATE TABLE idx_uri (
    rid BIGINT NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL,
    value TEXT COLLATE "C" NOT NULL
);
CREATE INDEX idx_uri_lookup ON idx_uri (res_type, param, value);
CREATE INDEX idx_uri_rid ON idx_uri (rid);

-- Transactional outbox: one row per change, written with the change, drained by event publishers.
CREATE TABLE outbox (
    seq BIGSERIAL PRIMARY KEY,
    res_type TEXT NOT NULL, res_id TEXT NOT NULL, version BIGINT NOT NULL,
    action TEXT NOT NULL,          -- create | update | delete
    created_at BIGINT NOT NULL
);
