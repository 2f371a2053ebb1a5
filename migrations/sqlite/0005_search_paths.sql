-- Search paths that stay cheap as the data grows (docs/performance.md, "Search").
-- A token or reference lookup for one value now lists its rids in order, from the index alone: the
-- first page of a search reads as many index entries as it needs instead of the whole match set.
-- The new indexes start with the columns of the ones they replace, so every earlier use still fits.
DROP INDEX idx_token_code;
CREATE INDEX idx_token_code_rid ON idx_token (res_type, param, code, system, rid);
DROP INDEX idx_reference_target;
CREATE INDEX idx_reference_target_rid ON idx_reference (target_id, target_type, param, res_type, rid);
-- `_has`, `_include` and a reference beside a more selective condition read a resource's
-- references by rid: from the index alone.
DROP INDEX idx_reference_rid;
CREATE INDEX idx_reference_rid_target ON idx_reference (rid, res_type, param, target_type, target_id);
-- `ge`/`gt`/`sa` bound the end of a date range; idx_date_lookup only bounds its start.
CREATE INDEX idx_date_high ON idx_date (res_type, param, high);
-- A date condition beside a more selective one is checked per rid, from the index alone.
DROP INDEX idx_date_rid;
CREATE INDEX idx_date_rid_range ON idx_date (rid, res_type, param, low, high);
-- Quantities in UCUM units are compared in base units (canon_code, canon_value).
CREATE INDEX idx_quantity_canon ON idx_quantity (res_type, param, canon_code, canon_value);
