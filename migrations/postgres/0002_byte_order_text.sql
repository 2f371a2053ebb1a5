-- Every identifier-like text column compares and sorts in byte order ("C"), as SQLite's BINARY does,
-- so `_sort` and keyset paging give the same order on both backends whatever the database's default
-- collation is. Byte order is also what range scans on codes and ids need.
ALTER TABLE resource ALTER COLUMN res_type TYPE TEXT COLLATE "C", ALTER COLUMN res_id TYPE TEXT COLLATE "C";
ALTER TABLE resource_history ALTER COLUMN res_type TYPE TEXT COLLATE "C", ALTER COLUMN res_id TYPE TEXT COLLATE "C";
ALTER TABLE idx_string ALTER COLUMN res_type TYPE TEXT COLLATE "C", ALTER COLUMN param TYPE TEXT COLLATE "C",
    ALTER COLUMN value_exact TYPE TEXT COLLATE "C";
ALTER TABLE idx_token ALTER COLUMN res_type TYPE TEXT COLLATE "C", ALTER COLUMN param TYPE TEXT COLLATE "C",
    ALTER COLUMN system TYPE TEXT COLLATE "C", ALTER COLUMN code TYPE TEXT COLLATE "C",
    ALTER COLUMN type_system TYPE TEXT COLLATE "C", ALTER COLUMN type_code TYPE TEXT COLLATE "C";
ALTER TABLE idx_reference ALTER COLUMN res_type TYPE TEXT COLLATE "C", ALTER COLUMN param TYPE TEXT COLLATE "C",
    ALTER COLUMN target_type TYPE TEXT COLLATE "C", ALTER COLUMN target_id TYPE TEXT COLLATE "C",
    ALTER COLUMN target_version TYPE TEXT COLLATE "C", ALTER COLUMN url TYPE TEXT COLLATE "C",
    ALTER COLUMN ident_system TYPE TEXT COLLATE "C", ALTER COLUMN ident_value TYPE TEXT COLLATE "C";
ALTER TABLE idx_date ALTER COLUMN res_type TYPE TEXT COLLATE "C", ALTER COLUMN param TYPE TEXT COLLATE "C";
ALTER TABLE idx_number ALTER COLUMN res_type TYPE TEXT COLLATE "C", ALTER COLUMN param TYPE TEXT COLLATE "C";
ALTER TABLE idx_quantity ALTER COLUMN res_type TYPE TEXT COLLATE "C", ALTER COLUMN param TYPE TEXT COLLATE "C",
    ALTER COLUMN system TYPE TEXT COLLATE "C", ALTER COLUMN code TYPE TEXT COLLATE "C",
    ALTER COLUMN unit TYPE TEXT COLLATE "C", ALTER COLUMN canon_code TYPE TEXT COLLATE "C";
ALTER TABLE idx_uri ALTER COLUMN res_type TYPE TEXT COLLATE "C", ALTER COLUMN param TYPE TEXT COLLATE "C";
