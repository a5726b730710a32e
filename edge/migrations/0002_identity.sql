-- Identity: users, one-time email codes, MFA, challenge sessions, refresh tokens, revoked
-- access tokens, rate-limit windows, the audit log, the dev outbox and signing keys.
-- Every secret a user could replay is stored only as a SHA-256 hex digest (`*_hash`);
-- passwords as Argon2id PHC strings.

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    organization TEXT,
    password_hash TEXT NOT NULL,
    roles TEXT NOT NULL DEFAULT '["user"]',
    confirmed INTEGER NOT NULL DEFAULT 0,
    disabled INTEGER NOT NULL DEFAULT 0,
    mfa_enabled INTEGER NOT NULL DEFAULT 0,
    -- The TOTP secret, encrypted with the Worker's MFA key (it must be read to verify codes).
    mfa_secret_enc TEXT,
    -- Secret awaiting its first code (setup not yet verified).
    mfa_pending_enc TEXT,
    -- The last TOTP step accepted: a code for this step or an earlier one is refused.
    mfa_last_step INTEGER,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER,
    mnemonic_sha3_256 TEXT,
    mnemonic_sha3_512 TEXT,
    public_key TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_login INTEGER
);

-- Emailed 6-digit codes: confirmation, password reset, email change.
CREATE TABLE email_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('confirm', 'reset', 'email_change')),
    code_hash TEXT NOT NULL,
    -- For email_change: the address being confirmed.
    payload TEXT,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX email_codes_user ON email_codes (user_id, purpose);

CREATE TABLE backup_codes (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at INTEGER,
    PRIMARY KEY (user_id, code_hash)
);

-- One-use login challenge sessions (MFA_SETUP, SOFTWARE_TOKEN_MFA), 3 minutes.
CREATE TABLE challenge_sessions (
    session_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    challenge TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);

-- Opaque refresh tokens, rotated on every use; reuse of a rotated one revokes its family.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    family_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

-- Access-token ids denied until they expire (logout).
CREATE TABLE denied_jtis (
    jti TEXT PRIMARY KEY NOT NULL,
    expires_at INTEGER NOT NULL
);

-- Tokens issued before `not_before` (Unix seconds) are revoked (logout-all, password change/reset).
CREATE TABLE session_cutoffs (
    user_id TEXT PRIMARY KEY NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    not_before INTEGER NOT NULL
);

-- Fixed-window counters per route class and client or account.
CREATE TABLE rate_limits (
    bucket TEXT PRIMARY KEY NOT NULL,
    window_start INTEGER NOT NULL,
    count INTEGER NOT NULL
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    user_id TEXT,
    event TEXT NOT NULL,
    client TEXT,
    detail TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);

-- Development mail (ENVIRONMENT = development): read by GET /api/_dev/outbox.
CREATE TABLE dev_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    to_addr TEXT NOT NULL COLLATE NOCASE,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX dev_outbox_to ON dev_outbox (to_addr);

-- JWT signing keys generated in development when no JWT_SIGNING_KEY secret is set.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    private_key TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
