-- Uploads any round of the run needs before it closes; NULL: 2, or the run's size if smaller
-- (shared::api::runs::contributors_needed). No round's global model is one clinic's weights.
ALTER TABLE runs ADD COLUMN min_contributors INTEGER;
