-- Cases: reported problems carried through the closed loop report →
-- register → dispatch → handle → verify → close, with their history,
-- photos and the clock of their time limit.
--
-- cases and case_events are partitioned by month on their time, so that a
-- large city's hundred million cases over ten years stay as fast as one
-- year's: queries that name a time range (stats, hotspots, lists with
-- from/to, a case by its code, whose date is in the code) read only the
-- months they need, and old months can be detached and archived whole.

-- +goose Up
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('admin', 'planner', 'dispatcher', 'analyst', 'unit', 'inspector'));

-- A category's handling limit is in hours (natural time: emergencies and
-- street order) or in working days (on the working calendar); duplicates
-- are looked for within a radius and a time window set per category.
ALTER TABLE categories
    ADD COLUMN time_limit_days integer CHECK (time_limit_days > 0),
    ADD COLUMN duplicate_radius_m double precision NOT NULL DEFAULT 50 CHECK (duplicate_radius_m > 0),
    ADD COLUMN duplicate_window_hours integer NOT NULL DEFAULT 72 CHECK (duplicate_window_hours > 0),
    ADD CONSTRAINT categories_one_limit CHECK (time_limit_hours IS NULL OR time_limit_days IS NULL);
UPDATE categories SET time_limit_days = time_limit_hours / 24, time_limit_hours = NULL
 WHERE time_limit_hours >= 48;
-- Mobile vendors and stalls move on: a duplicate is one nearby the same day.
UPDATE categories SET duplicate_radius_m = 100, duplicate_window_hours = 24 WHERE code IN ('E0501', 'E0503');

-- The last sequence number of a case code per district and local day.
CREATE TABLE case_sequences (
    prefix  text PRIMARY KEY,  -- district code and local date: 110108-20261201
    last    integer NOT NULL
);

CREATE TABLE cases (
    id                 bigint GENERATED ALWAYS AS IDENTITY,
    code               text NOT NULL,
    reported_at        timestamptz NOT NULL,
    status             text NOT NULL CHECK (status IN ('reported', 'registered', 'dispatched', 'handling',
                                                       'handled', 'verified', 'closed', 'cancelled', 'merged', 'suspended')),
    suspended_from     text,
    category_code      text NOT NULL,    -- categories, themes and the proposed unit: see cases_keep_parent
    theme_code         text,
    source             text NOT NULL CHECK (source IN ('inspector', 'hotline', 'secret_inspection', 'citizen',
                                                       'supervisor', 'patrol')),
    description        text NOT NULL DEFAULT '' CHECK (length(description) <= 4000),
    address            text CHECK (length(address) <= 500),
    location_quality   text NOT NULL CHECK (location_quality IN ('gps', 'address')),
    needs_confirmation boolean NOT NULL DEFAULT false,
    geom               geometry(Point, 4326) NOT NULL CHECK (citygrid_in_range(geom)),
    input              jsonb,            -- the point as sent, when not WGS84
    reporters          jsonb NOT NULL DEFAULT '[]',  -- personal data: [{name, phone, source, case}]
    reported_by        text NOT NULL,    -- the token's user
    object_id          bigint,
    grid_code          text,             -- the grid and version at report time
    grid_version       integer,
    district_code      text NOT NULL,
    subdistrict_code   text,
    community_code     text,
    routing            jsonb NOT NULL,   -- the proposal: leads, supporters, the rule that decided
    proposed_unit_id   bigint,
    unit_id            bigint REFERENCES units (id),  -- the unit the case is dispatched to
    first_unit_id      bigint REFERENCES units (id),  -- the first unit it was dispatched to
    manual_dispatch    boolean NOT NULL DEFAULT false,
    dispatch_count     integer NOT NULL DEFAULT 0,
    return_count       integer NOT NULL DEFAULT 0,
    rework_count       integer NOT NULL DEFAULT 0,
    reopen_count       integer NOT NULL DEFAULT 0,
    -- The clock of the handling limit: spent_s seconds on the limit's clock
    -- before clock_from (NULL while stopped: not dispatched, suspended,
    -- handled); due_at and warn_at are where it ends and where 80% is gone.
    limit_hours        integer,
    limit_days         integer,
    spent_s            bigint NOT NULL DEFAULT 0,
    clock_from         timestamptz,
    due_at             timestamptz,
    warn_at            timestamptz,
    warning_sent       boolean NOT NULL DEFAULT false,  -- the deadline notices went out
    overdue_sent       boolean NOT NULL DEFAULT false,
    registered_at      timestamptz,
    registered_on_time boolean,
    dispatched_at      timestamptz,
    handled_at         timestamptz,
    handled_on_time    boolean,
    handle_s           bigint,           -- limit-clock seconds from dispatch to handled (clock stopped while suspended)
    verified_at        timestamptz,
    closed_at          timestamptz,
    merged_into        text,
    h3_r6              bigint NOT NULL,  -- H3 cells, computed once at intake
    h3_r7              bigint NOT NULL,
    h3_r8              bigint NOT NULL,
    h3_r9              bigint NOT NULL,
    h3_r10             bigint NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, reported_at),
    CONSTRAINT cases_suspended_from CHECK ((status = 'suspended') = (suspended_from IS NOT NULL)),
    CONSTRAINT cases_one_limit CHECK (limit_hours IS NULL OR limit_days IS NULL)
) PARTITION BY RANGE (reported_at);
CREATE INDEX cases_code ON cases (code);
CREATE INDEX cases_reported ON cases (reported_at);
CREATE INDEX cases_status ON cases (status, reported_at);
CREATE INDEX cases_unit ON cases (unit_id, status, reported_at) WHERE unit_id IS NOT NULL;
CREATE INDEX cases_geom_gist ON cases USING gist (geom);
CREATE INDEX cases_due ON cases (due_at) WHERE clock_from IS NOT NULL;
CREATE INDEX cases_grid ON cases (grid_code, reported_at);
CREATE INDEX cases_community ON cases (community_code, reported_at);
CREATE INDEX cases_subdistrict ON cases (subdistrict_code, reported_at);
CREATE INDEX cases_district ON cases (district_code, reported_at);
-- The clock's queues (overdue, warning) per district and subdistrict: only
-- cases whose clock runs, a small share of all.
CREATE INDEX cases_running_district ON cases (district_code, due_at) WHERE clock_from IS NOT NULL;
CREATE INDEX cases_running_subdistrict ON cases (subdistrict_code, due_at) WHERE clock_from IS NOT NULL;
-- The other half of overdue: handled late and still open (cases.OverdueSQL).
CREATE INDEX cases_late_district ON cases (district_code)
    WHERE handled_on_time IS FALSE AND status NOT IN ('closed', 'cancelled', 'merged');
CREATE INDEX cases_late_subdistrict ON cases (subdistrict_code)
    WHERE handled_on_time IS FALSE AND status NOT IN ('closed', 'cancelled', 'merged');
-- A category's cases in a period (duplicates, lists, counts per status
-- read from the index alone).
CREATE INDEX cases_category ON cases (category_code, reported_at) INCLUDE (status);

-- Every transition, in the transaction that made it.
CREATE TABLE case_events (
    id           bigint GENERATED ALWAYS AS IDENTITY,
    case_id      bigint NOT NULL,
    at           timestamptz NOT NULL,
    actor        text NOT NULL,
    actor_role   text NOT NULL,
    actor_unit   text,
    action       text NOT NULL,
    from_status  text,
    to_status    text NOT NULL,
    note         text NOT NULL DEFAULT '' CHECK (length(note) <= 4000),
    data         jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
CREATE INDEX case_events_case ON case_events (case_id, at);

-- Photos: the bytes stay in PostgreSQL, so they are in the database's
-- backups; a reported photo URL is kept as a link.
CREATE TABLE case_photos (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id      bigint NOT NULL,
    case_code    text NOT NULL,
    stage        text NOT NULL CHECK (stage IN ('report', 'handled', 'verify')),
    content_type text,
    size_bytes   integer,
    sha256       bytea,
    data         bytea,
    url          text CHECK (url ~ '^https?://'),
    taken_at     timestamptz,
    exif_lon     double precision,
    exif_lat     double precision,
    uploaded_by  text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT case_photos_bytes_or_url CHECK ((data IS NULL) <> (url IS NULL))
);
CREATE INDEX case_photos_case ON case_photos (case_id);

-- Idempotency keys of intake: the same key from the same user returns the
-- same case; the body's hash tells a retry from a different request.
CREATE TABLE case_requests (
    principal    text NOT NULL,
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    body_sha256  bytea NOT NULL,
    case_id      bigint NOT NULL,
    case_code    text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);

-- Monthly partitions of cases and case_events for [from, to); each table
-- also has a default partition, so an insert outside them never fails.
-- +goose StatementBegin
CREATE FUNCTION citygrid_case_partitions(from_month date, to_month date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', from_month)::date;
    made integer := 0;
    t text;
BEGIN
    WHILE m < to_month LOOP
        FOREACH t IN ARRAY ARRAY['cases', 'case_events'] LOOP
            IF to_regclass(format('%s_%s', t, to_char(m, 'YYYYMM'))) IS NULL THEN
                EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                               format('%s_%s', t, to_char(m, 'YYYYMM')), t,
                               m::timestamp AT TIME ZONE 'UTC', (m + interval '1 month')::timestamp AT TIME ZONE 'UTC');
                made := made + 1;
            END IF;
        END LOOP;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN made;
END $$;
-- +goose StatementEnd
CREATE TABLE cases_default PARTITION OF cases DEFAULT;
CREATE TABLE case_events_default PARTITION OF case_events DEFAULT;
-- A year back (for imported history) and three months ahead; servers make
-- the next months as time goes on (cases.Store.EnsurePartitions), and a
-- city with older history makes its months before loading it.
SELECT citygrid_case_partitions((date_trunc('month', now()) - interval '12 months')::date,
                                (date_trunc('month', now()) + interval '4 months')::date);

-- Every report names a category, its theme and, mostly, the one unit that
-- leads the duty there (the traffic police take every parking report), so
-- foreign keys to them would share-lock the same few parent rows from
-- hundreds of intake transactions a second: measured, 575 against 698
-- intakes a second. Intake takes them from the locate snapshot, and these
-- triggers keep what cases name from being deleted, as the keys did.
-- +goose StatementBegin
CREATE FUNCTION citygrid_cases_keep_parent() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    used boolean;
BEGIN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM cases WHERE %I = ($1::%s).%I)', TG_ARGV[0], TG_TABLE_NAME, TG_ARGV[1])
        INTO used USING OLD;
    IF used THEN
        RAISE EXCEPTION 'a case names this %', TG_TABLE_NAME
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'cases_' || TG_ARGV[0] || '_in_use';
    END IF;
    RETURN OLD;
END $$;
-- +goose StatementEnd
CREATE TRIGGER cases_keep_category BEFORE DELETE ON categories
    FOR EACH ROW EXECUTE FUNCTION citygrid_cases_keep_parent('category_code', 'code');
CREATE TRIGGER cases_keep_theme BEFORE DELETE ON themes
    FOR EACH ROW EXECUTE FUNCTION citygrid_cases_keep_parent('theme_code', 'code');
CREATE TRIGGER cases_keep_proposed_unit BEFORE DELETE ON units
    FOR EACH ROW EXECUTE FUNCTION citygrid_cases_keep_parent('proposed_unit_id', 'id');

CREATE TRIGGER cases_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON cases
    FOR EACH STATEMENT EXECUTE FUNCTION citygrid_notify_changed();

-- +goose Down
DROP TRIGGER cases_keep_proposed_unit ON units;
DROP TRIGGER cases_keep_theme ON themes;
DROP TRIGGER cases_keep_category ON categories;
DROP FUNCTION citygrid_cases_keep_parent();
DROP TABLE case_requests;
DROP TABLE case_photos;
DROP TABLE case_events;
DROP TABLE cases;
DROP TABLE case_sequences;
DROP FUNCTION citygrid_case_partitions(date, date);
ALTER TABLE categories DROP CONSTRAINT categories_one_limit,
    DROP COLUMN duplicate_window_hours, DROP COLUMN duplicate_radius_m;
UPDATE categories SET time_limit_hours = time_limit_days * 24 WHERE time_limit_days IS NOT NULL;
ALTER TABLE categories DROP COLUMN time_limit_days;
DELETE FROM users WHERE role = 'inspector';
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('admin', 'planner', 'dispatcher', 'analyst', 'unit'));
