-- Secure rounds: each member's round keys are signed with the Ed25519 key of its recovery
-- phrase (users.public_key); the signature (hex) is kept so every member can check it.
ALTER TABLE secure_members ADD COLUMN signature TEXT;
