-- Contained resources, indexed like stored ones for `_contained` and for chains through `#id`
-- references. Their idx_* rows carry rid = -crid, so they never mix with a stored resource's rows.
CREATE TABLE contained_resource (
    crid          INTEGER PRIMARY KEY AUTOINCREMENT,
    container_rid BIGINT NOT NULL,
    res_type      TEXT NOT NULL,
    local_id      TEXT NOT NULL
);
CREATE INDEX contained_resource_container ON contained_resource (container_rid, local_id);
CREATE INDEX contained_resource_type ON contained_resource (res_type);
