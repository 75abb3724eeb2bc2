-- Webhooks of responsible units and the log of every delivery attempt. The
-- deliveries themselves wait in river's job table (river_job, created by
-- rivermigrate right after goose, see internal/db.Migrator), inserted in the
-- transaction of the case change they announce.

-- +goose Up
CREATE TABLE webhooks (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unit_id     bigint NOT NULL REFERENCES units (id) ON DELETE CASCADE,
    url         text NOT NULL CHECK (url ~* '^https?://'),
    -- The notice kinds the unit subscribes to.
    events      text[] NOT NULL CHECK (cardinality(events) > 0),
    -- Kept in clear: every delivery is signed with it (HMAC-SHA256).
    secret      text NOT NULL CHECK (length(secret) >= 16),
    created_by  text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- A deleted webhook stays, so that its delivery log can still be read;
    -- its pending deliveries are cancelled when they come up.
    deleted_at  timestamptz
);
CREATE INDEX webhooks_unit_active ON webhooks (unit_id) WHERE deleted_at IS NULL;

CREATE TABLE webhook_deliveries (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id   bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    -- X-Citygrid-Delivery: one per notice and webhook, the same on every retry.
    delivery_id  text NOT NULL,
    notice_id    text NOT NULL,
    kind         text NOT NULL,
    case_code    text NOT NULL,
    attempt      integer NOT NULL CHECK (attempt > 0),
    status_code  integer,          -- NULL when no HTTP answer came
    error        text NOT NULL DEFAULT '',
    duration_ms  double precision NOT NULL,
    at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id DESC);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
