-- `_text` and `_content`: one folded word document per resource (see search/src/fulltext.rs).
CREATE TABLE idx_text (
    rid INTEGER NOT NULL, res_type TEXT NOT NULL, param TEXT NOT NULL,
    value TEXT NOT NULL, grp INTEGER
);
CREATE INDEX idx_text_lookup ON idx_text (res_type, param);
CREATE INDEX idx_text_rid ON idx_text (rid);
