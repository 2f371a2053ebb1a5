-- Token rows also carry the row key (rid) of the Patient in their `patient` column, when that
-- Patient existed as the row was written (rids are never reused: a deleted resource keeps its
-- row). `Patient?_has:Observation:patient:code=X` then reads its page in the Patients' own order
-- from the code's index entries, stopping after the page's 51 distinct patients, instead of
-- looking up every matching patient by id to order them (300 at x10). Rows without it (several
-- patients, or a Patient written later) are read by id as before. docs/performance.md, "Eleventh round".
ALTER TABLE idx_token ADD COLUMN patient_rid BIGINT;
UPDATE idx_token SET patient_rid = (SELECT p.rid FROM resource p WHERE p.res_type = 'Patient' AND p.res_id = idx_token.patient)
WHERE patient IS NOT NULL AND patient <> '*';
DROP INDEX idx_token_code_patient;
CREATE INDEX idx_token_code_patient ON idx_token (res_type, param, code, system, patient_rid, patient) WHERE patient IS NOT NULL;
-- Statistics now (as in 0013): a new index without them misleads the planner.
ANALYZE idx_token_code_patient;
