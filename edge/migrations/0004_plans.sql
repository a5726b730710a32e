-- A run's training plan, versioned: a PATCH adds a version that applies from the next round;
-- round r trains with the highest version whose from_round <= r. Runs created before this
-- migration have no row and train with the default plan as version 1.
CREATE TABLE run_plans (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    version INTEGER NOT NULL,
    from_round INTEGER NOT NULL,
    plan TEXT NOT NULL,                  -- TrainingPlan as JSON
    created_at INTEGER NOT NULL,
    PRIMARY KEY (run_id, version)
);

-- Federated validation: each upload's score of the round's global model on its held-out part.
ALTER TABLE uploads ADD COLUMN val_loss REAL;
ALTER TABLE uploads ADD COLUMN val_dice TEXT;            -- JSON list, one per foreground class
ALTER TABLE rounds ADD COLUMN val_loss REAL;
ALTER TABLE rounds ADD COLUMN val_dice REAL;
ALTER TABLE rounds ADD COLUMN val_dice_per_class TEXT;   -- JSON list
-- The server step's state after this round (FedAvgM/FedAdam/FedYogi), in R2.
ALTER TABLE rounds ADD COLUMN server_state_key TEXT;
