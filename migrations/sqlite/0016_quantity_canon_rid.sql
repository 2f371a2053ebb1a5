-- A one-value UCUM quantity search (`value-quantity=gt169|http://unitsofmeasure.org|mg/dL`)
-- reads a window of the unit's rows in rid order, checking each value, so that a page stops
-- at its 51st match instead of collecting every match of the range through idx_quantity_canon
-- to keep the lowest rids (2,160 for Q11 at ×10). Named in the statement (INDEXED BY), so that
-- the range form keeps its own plan. docs/performance.md, "Thirteenth round".
CREATE INDEX idx_quantity_canon_rid ON idx_quantity (res_type, param, canon_code, rid, canon_value);
-- Statistics now (as in 0013): a new index without them misleads the planner.
ANALYZE idx_quantity_canon_rid;
