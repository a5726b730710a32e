-- Federated runs: who takes part, each round's state and aggregate, and every accepted upload.
-- Tensor bytes live in R2 under runs/{id}/rounds/{r}/…; these rows say which objects count.

CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    creator_id TEXT NOT NULL REFERENCES users(id),
    model TEXT NOT NULL,                 -- ModelConfig as JSON
    aggregation TEXT NOT NULL,           -- fedavg | mean | median | trimmed_mean
    trim_fraction REAL NOT NULL,
    round_timeout_secs INTEGER NOT NULL,
    min_participants INTEGER,            -- NULL: every active participant
    created_at INTEGER NOT NULL
);

CREATE TABLE run_participants (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    active INTEGER NOT NULL DEFAULT 1,
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (run_id, user_id)
);
CREATE INDEX run_participants_by_user ON run_participants(user_id);

-- One row per round; the open round is the one with closed_at NULL (at most one per run).
CREATE TABLE rounds (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    round INTEGER NOT NULL,
    kind TEXT,                           -- weights | gradients, fixed by the first upload
    tensor_form TEXT,                    -- named | list | flat (the seeds' gradient JSON)
    opened_at INTEGER NOT NULL,
    deadline_at INTEGER NOT NULL,
    model_key TEXT NOT NULL,             -- the global model this round starts from
    closed_at INTEGER,
    close_reason TEXT,                   -- all_uploaded | deadline
    aggregate_key TEXT,
    aggregate_bytes INTEGER,
    aggregate_sha256 TEXT,
    uploads INTEGER,
    num_examples INTEGER,
    loss REAL,
    dice REAL,
    PRIMARY KEY (run_id, round)
);

-- The upload that counts for (run, round, user); a replacement overwrites the row.
CREATE TABLE uploads (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    round INTEGER NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    r2_key TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    num_examples INTEGER NOT NULL,
    loss REAL,
    dice REAL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (run_id, round, user_id)
);
