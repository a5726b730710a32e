-- How many times a secure round's keys started over (too few stayed in a phase): key
-- material is derived per attempt, so no key or mask of an aborted attempt is used again.
ALTER TABLE secure_rounds ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
