-- Meshfed's first migration: a key/value table for schema facts and development probes.
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

INSERT INTO meta (key, value, updated_at) VALUES ('schema_version', '1', 0)
    ON CONFLICT(key) DO UPDATE SET value = excluded.value;
