-- `value-quantity=gt169.09|http://unitsofmeasure.org|mg/dL` is `(canon_code = … AND canon_value > …)
-- OR (canon_code IS NULL AND system = … AND code = … AND value > …)`. The second branch had to read
-- its candidates' table rows to test canon_code and system: SQLite every mg/dL value above the
-- threshold (2,160 at ×10 Synthea, none of them without a canonical form), PostgreSQL every row
-- without a canonical form (180). With those columns, and rid, in the indexes the test happens in
-- the index. Same leading columns as before, so every earlier use still fits.
-- docs/performance.md, "Search".
DROP INDEX idx_quantity_lookup;
CREATE INDEX idx_quantity_lookup ON idx_quantity (res_type, param, code, value, canon_code, system, rid);
DROP INDEX idx_quantity_canon;
CREATE INDEX idx_quantity_canon ON idx_quantity (res_type, param, canon_code, canon_value, rid);
