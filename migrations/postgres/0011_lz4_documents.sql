-- Stored documents compress with lz4 where this PostgreSQL was built with it (new writes; rows
-- already stored keep pglz until rewritten). A page of 51 Patients (3.4 kB each, compressed) read
-- 1.39 ms with pglz, 1.18 ms with lz4 (pgbench, x10 Synthea data). docs/performance.md, "Seventh round".
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE resource ALTER COLUMN content SET COMPRESSION lz4, ALTER COLUMN content_text SET COMPRESSION lz4;
        ALTER TABLE resource_history ALTER COLUMN content SET COMPRESSION lz4, ALTER COLUMN content_text SET COMPRESSION lz4;
    END IF;
END
$$;
