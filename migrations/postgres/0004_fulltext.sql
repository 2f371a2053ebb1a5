-- `_text` and `_content`: one folded word document per resource (see search/src/fulltext.rs).
-- No b-tree on the document: it can exceed a b-tree entry, and matches are word-start LIKE scans.
CREATE TABLE idx_text (
    rid BIGINT NOT NULL, res_type TEXT COLLATE "C" NOT NULL, param TEXT COLLATE "C" NOT NULL,
    value TEXT COLLATE "C" NOT NULL, grp BIGINT
);
CREATE INDEX idx_text_lookup ON idx_text (res_type, param);
CREATE INDEX idx_text_rid ON idx_text (rid);
