-- A token searched without a system (`status=active`, `category=vital-signs`) next to another
-- condition is joined on rid, and with `system` between `code` and `rid` the index could not seek
-- to the rid: SQLite read all 480 active MedicationRequests of a ×10 Synthea store for each of a
-- patient's 9 (Q18: 0.58 -> 0.22 ms). With rid right after code, both forms seek; a code shared by
-- several systems (rare) is told apart inside the index. docs/performance.md, "Search".
DROP INDEX idx_token_code_rid;
CREATE INDEX idx_token_code_rid ON idx_token (res_type, param, code, rid, system);
