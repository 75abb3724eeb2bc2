-- Case statistics: the evaluation windows are the handling deadline
-- (cases due in a period) and the registration time, neither of which is
-- the partition key, so each needs its own index to read a month of a
-- large city without scanning every partition's rows.

-- +goose Up
CREATE INDEX cases_due_all ON cases (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX cases_registered ON cases (registered_at) WHERE registered_at IS NOT NULL;

-- +goose Down
DROP INDEX cases_registered;
DROP INDEX cases_due_all;
