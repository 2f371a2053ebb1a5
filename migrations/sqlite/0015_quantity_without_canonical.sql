-- The as-written branch of a quantity condition (`canon_code IS NULL AND system = … AND code = …
-- AND value > …`) is for values without a canonical form, a few hundred rows in a ×10 Synthea
-- store. Through idx_quantity_lookup it read every value of the unit above the threshold and
-- dropped the canonical ones in the index: 650 mg/dL rows at ×10 for Q11, ten times the ×1
-- count, to find none. An index of the rows without a canonical form alone reads only those.
-- docs/performance.md, "Eleventh round".
CREATE INDEX idx_quantity_raw ON idx_quantity (res_type, param, code, value, system, rid) WHERE canon_code IS NULL;
-- Statistics now (as in 0013): a new index without them misleads the planner.
ANALYZE idx_quantity_raw;
