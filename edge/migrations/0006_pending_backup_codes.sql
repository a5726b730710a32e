-- Backup codes of an MFA setup that is not verified yet: they count only once the new secret
-- is verified, and the account's current codes keep working until then (a stolen access
-- token cannot wipe them by starting a setup).
ALTER TABLE backup_codes ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
