-- Each token row of a resource carries the Patient its `patient` search parameter names (the
-- target id; '*' when it names several, which a query reads through idx_reference as before;
-- NULL for none and for contained resources' rows). `Patient?_has:Observation:patient:code=X` then
-- reads the patients from the code's own index entries instead of probing idx_reference once per
-- matching Observation (820 probes for a common LOINC code at x10). docs/performance.md, "Search".
ALTER TABLE idx_token ADD COLUMN patient TEXT;
UPDATE idx_token SET patient = (
    SELECT CASE WHEN COUNT(DISTINCT r.target_id) > 1 THEN '*' ELSE MAX(r.target_id) END
    FROM idx_reference r
    WHERE r.rid = idx_token.rid AND r.param = 'patient' AND r.target_type = 'Patient')
WHERE rid > 0;
CREATE INDEX idx_token_code_patient ON idx_token (res_type, param, code, system, patient) WHERE patient IS NOT NULL;
