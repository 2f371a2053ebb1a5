-- Composite search parameters store each component value as an ordinary index row under
-- `param$index`; rows taken from the same element instance share `grp` (NULL for other rows).
ALTER TABLE idx_string ADD COLUMN grp BIGINT;
ALTER TABLE idx_token ADD COLUMN grp BIGINT;
ALTER TABLE idx_reference ADD COLUMN grp BIGINT;
ALTER TABLE idx_date ADD COLUMN grp BIGINT;
ALTER TABLE idx_number ADD COLUMN grp BIGINT;
ALTER TABLE idx_quantity ADD COLUMN grp BIGINT;
ALTER TABLE idx_uri ADD COLUMN grp BIGINT;
