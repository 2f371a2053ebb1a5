-- Looking up live resources by id (`r.res_type = ? AND r.res_id IN (...) AND NOT r.deleted`)
-- read each candidate's table row only for `deleted`: the unique index on (res_type, res_id)
-- does not hold it. `Patient?_has:Observation:patient:code=X` at x10 checks 300 patients this
-- way, a cold 4 kB Patient row each. With `deleted` in the index the check stays in the index.
-- docs/performance.md, "Tenth round".
CREATE INDEX resource_type_id_deleted ON resource (res_type, res_id, deleted);
-- Statistics now, not when the store next doubles: without them SQLite guesses the new index
-- selective on res_type alone and reads whole types through it.
ANALYZE resource_type_id_deleted;
