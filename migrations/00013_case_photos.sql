-- +goose Up
-- The same bytes are stored once per case: a retried or repeated upload
-- answers the photo already there (ON CONFLICT on this index).
CREATE UNIQUE INDEX case_photos_same_bytes ON case_photos (case_id, sha256) WHERE data IS NOT NULL;

-- +goose Down
DROP INDEX case_photos_same_bytes;
