-- Secure aggregation (shared::secagg): a run option, and each secure round's phases. Every
-- row is the truth the run's object rebuilds from; nothing here is an individual update in
-- the clear (masked inputs live in R2 as uniform-looking Z/2^32 vectors).
ALTER TABLE runs ADD COLUMN secure_aggregation INTEGER NOT NULL DEFAULT 0;

-- One row per secure round once anyone acts in it.
CREATE TABLE secure_rounds (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    round INTEGER NOT NULL,
    phase TEXT NOT NULL,                 -- keys | shares | input | reveal
    phase_deadline_at INTEGER NOT NULL,
    threshold INTEGER,                   -- fixed with the keys
    PRIMARY KEY (run_id, round)
);

-- A participant of a secure round: its keys, its index once the keys are fixed, and what it
-- has sent.
CREATE TABLE secure_members (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    round INTEGER NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    x INTEGER,
    c_pk TEXT NOT NULL,
    s_pk TEXT NOT NULL,
    shared INTEGER NOT NULL DEFAULT 0,
    input_key TEXT,                      -- R2 key of the masked input
    revealed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, round, user_id)
);

-- Sealed shares from one member to another (only the recipient can open them).
CREATE TABLE secure_shares (
    run_id INTEGER NOT NULL,
    round INTEGER NOT NULL,
    from_x INTEGER NOT NULL,
    to_x INTEGER NOT NULL,
    ciphertext TEXT NOT NULL,
    PRIMARY KEY (run_id, round, from_x, to_x)
);

-- Shares revealed for unmasking: of a survivor's self-mask seed or a dropped member's key.
CREATE TABLE secure_reveals (
    run_id INTEGER NOT NULL,
    round INTEGER NOT NULL,
    from_x INTEGER NOT NULL,
    about_x INTEGER NOT NULL,
    secret TEXT NOT NULL,                -- self_mask | mask_key
    share TEXT NOT NULL,
    PRIMARY KEY (run_id, round, from_x, about_x)
);
