-- Background reindexing after a search parameter is added or changed (fhir-server/src/store/indexing.rs).
-- A job walks the current resources of its types in rid order. `cursor_rid` (the last rid done) is
-- committed with each batch, so a restarted server resumes where the last one stopped.
CREATE TABLE reindex_job (
    id          BIGSERIAL PRIMARY KEY,
    params      TEXT   NOT NULL,            -- JSON [[type, code], ...]; [] = every parameter of every type
    end_rid     BIGINT NOT NULL,            -- later resources were indexed with the new definitions on write
    cursor_rid  BIGINT NOT NULL DEFAULT 0,
    done        BIGINT NOT NULL DEFAULT 0,  -- resources reindexed so far
    total       BIGINT NOT NULL,            -- resources to reindex, counted when the job was created
    created_at  BIGINT NOT NULL,            -- microseconds since the Unix epoch
    finished_at BIGINT
);

-- The index format the stored rows were written in (search::INDEX_FORMAT). A server with a newer
-- format queues a full reindex at start (no row: rows written before the format was recorded).
CREATE TABLE index_format (version BIGINT NOT NULL);
