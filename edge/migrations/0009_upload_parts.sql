-- Uploads sent in parts (R2 multipart through the Worker): one row per upload in progress,
-- one per part received. The rows name the R2 multipart upload, so an abandoned one can be
-- aborted by the sweep; a completed or refused one is deleted with its rows.
CREATE TABLE part_uploads (
    id TEXT PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    round INTEGER NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,                  -- weights | gradients
    format TEXT NOT NULL,                -- safetensors | json
    bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    part_bytes INTEGER NOT NULL,
    r2_key TEXT NOT NULL,
    r2_upload_id TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX part_uploads_by_user ON part_uploads (run_id, user_id);
CREATE INDEX part_uploads_by_age ON part_uploads (created_at);

CREATE TABLE part_upload_parts (
    upload_id TEXT NOT NULL REFERENCES part_uploads(id) ON DELETE CASCADE,
    part INTEGER NOT NULL,
    etag TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (upload_id, part)
);
