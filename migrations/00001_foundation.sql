-- The foundation schema: regions, grids, units, layers, objects, themes,
-- categories, assignments, users and tokens.
--
-- Every geometry is SRID 4326 with a type constraint, a validity check, a
-- coordinate range check and a GiST index. Metric columns are computed on
-- geography (geodesic, on the WGS84 spheroid), never in degrees.

-- +goose Up
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- One function for the range check, so the rule reads the same everywhere.
CREATE FUNCTION citygrid_in_range(g geometry) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ST_XMin(g) >= -180 AND ST_XMax(g) <= 180 AND ST_YMin(g) >= -90 AND ST_YMax(g) <= 90;

CREATE TABLE regions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text NOT NULL UNIQUE CHECK (code <> ''),
    name        text NOT NULL CHECK (btrim(name) <> ''),
    level       text NOT NULL CHECK (level IN ('district', 'subdistrict', 'community')),
    parent_id   bigint REFERENCES regions (id) ON DELETE RESTRICT,
    geom        geometry(MultiPolygon, 4326) NOT NULL,
    area_m2     double precision GENERATED ALWAYS AS (ST_Area(geom::geography)) STORED,
    attrs       jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT regions_parent_required CHECK (level = 'district' OR parent_id IS NOT NULL),
    CONSTRAINT regions_geom_valid CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom)),
    CONSTRAINT regions_geom_range CHECK (citygrid_in_range(geom))
);
CREATE INDEX regions_geom_gist ON regions USING gist (geom);
CREATE INDEX regions_parent ON regions (parent_id);
CREATE INDEX regions_level ON regions (level);

-- A grid row is one version of a unit grid. The live version has
-- valid_to IS NULL; redrawing closes it and inserts the next version with the
-- same code, so history stays queryable.
CREATE TABLE grids (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code          text NOT NULL CHECK (code <> ''),
    community_id  bigint NOT NULL REFERENCES regions (id) ON DELETE RESTRICT,
    name          text NOT NULL DEFAULT '',
    geom          geometry(Polygon, 4326) NOT NULL,
    area_m2       double precision GENERATED ALWAYS AS (ST_Area(geom::geography)) STORED,
    version       integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    valid_from    timestamptz NOT NULL DEFAULT now(),
    valid_to      timestamptz,
    attrs         jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT grids_code_version UNIQUE (code, version),
    CONSTRAINT grids_validity CHECK (valid_to IS NULL OR valid_to > valid_from),
    CONSTRAINT grids_geom_valid CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom)),
    CONSTRAINT grids_geom_range CHECK (citygrid_in_range(geom))
);
CREATE UNIQUE INDEX grids_live_code ON grids (code) WHERE valid_to IS NULL;
CREATE INDEX grids_geom_gist ON grids USING gist (geom);
CREATE INDEX grids_live_geom_gist ON grids USING gist (geom) WHERE valid_to IS NULL;
CREATE INDEX grids_community ON grids (community_id) WHERE valid_to IS NULL;

CREATE TABLE units (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code        text NOT NULL UNIQUE CHECK (code <> ''),
    name        text NOT NULL CHECK (btrim(name) <> ''),
    kind        text NOT NULL CHECK (kind IN ('department', 'subdistrict_office', 'community',
                                              'contractor', 'shop', 'enterprise', 'other')),
    parent_id   bigint REFERENCES units (id) ON DELETE RESTRICT,
    region_id   bigint REFERENCES regions (id) ON DELETE SET NULL,
    contact     jsonb NOT NULL DEFAULT '{}',
    geom        geometry(Geometry, 4326),
    attrs       jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT units_not_own_parent CHECK (parent_id IS DISTINCT FROM id),
    CONSTRAINT units_geom_valid CHECK (geom IS NULL OR (ST_IsValid(geom) AND NOT ST_IsEmpty(geom))),
    CONSTRAINT units_geom_range CHECK (geom IS NULL OR citygrid_in_range(geom))
);
CREATE INDEX units_geom_gist ON units USING gist (geom);
CREATE INDEX units_parent ON units (parent_id);
CREATE INDEX units_kind ON units (kind);

-- Object layers: what kinds of things are assigned, and how far from a
-- reported point a line of that layer still counts as "on" it.
CREATE TABLE layers (
    code       text PRIMARY KEY,
    name_zh    text NOT NULL,
    name_en    text NOT NULL,
    geom_kind  text NOT NULL CHECK (geom_kind IN ('point', 'line', 'polygon', 'any')),
    snap_m     double precision NOT NULL DEFAULT 15 CHECK (snap_m >= 0 AND snap_m <= 500),
    sort       integer NOT NULL DEFAULT 0
);
INSERT INTO layers (code, name_zh, name_en, geom_kind, snap_m, sort) VALUES
    ('street',    '主次干道', 'main and secondary streets', 'line',    15, 10),
    ('alley',     '背街小巷', 'back alleys',                'line',    10, 20),
    ('market',    '农贸市场', 'markets',                    'any',     15, 30),
    ('shop',      '商铺',     'shops',                      'any',     10, 40),
    ('school',    '学校',     'schools',                    'any',     15, 50),
    ('station',   '站点',     'stations and stops',         'any',     20, 60),
    ('compound',  '小区',     'residential compounds',      'any',     10, 70),
    ('toilet',    '公厕',     'public toilets',             'any',     10, 80),
    ('park',      '公园',     'parks',                      'any',     10, 90),
    ('component', '部件',     'components',                 'point',    5, 100),
    ('other',     '其他',     'other objects',              'any',     10, 999);

CREATE TABLE themes (
    code         text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]*$'),
    name_zh      text NOT NULL,
    name_en      text NOT NULL,
    description  text NOT NULL DEFAULT '',
    sort         integer NOT NULL DEFAULT 0
);
-- The duties that campaign plans require to reach full coverage.
INSERT INTO themes (code, name_zh, name_en, sort) VALUES
    ('sanitation',           '环境卫生',       'sanitation',                      10),
    ('frontage',             '门前三包',       'frontage duty',                   20),
    ('road_chief',           '路长制',         'road chief',                      30),
    ('streetlight',          '路灯维护',       'streetlight maintenance',         40),
    ('greening',             '园林绿化',       'greening',                        50),
    ('market_order',         '市场秩序',       'market order',                    60),
    ('mobile_vendors',       '流动摊贩',       'mobile vendors',                  70),
    ('parking',              '停车秩序',       'parking',                         80),
    ('idle_land',            '闲置土地',       'idle land',                       90),
    ('billboards',           '广告招牌',       'billboards and shop signs',      100),
    ('overhead_cables',      '架空线缆',       'overhead cables and cabinets',   110),
    ('dog_keeping',          '养犬管理',       'dog keeping',                    120),
    ('illegal_construction', '违法建设',       'illegal construction',           130),
    ('municipal_facilities', '市政设施',       'municipal facilities upkeep',    140),
    ('place_name_signs',     '地名标志',       'place-name signs',               150),
    ('unsafe_buildings',     '危险房屋',       'unsafe buildings',               160);

-- Component (部件, CJ/T 214) and event (事件) classes. Codes: C or E, the
-- 2-digit major class, then the 2-digit minor class; a major class row has
-- no minor part and no parent.
CREATE TABLE categories (
    code              text PRIMARY KEY CHECK (code ~ '^[CE][0-9]{2}([0-9]{2})?$'),
    kind              text NOT NULL CHECK (kind IN ('component', 'event')),
    parent_code       text REFERENCES categories (code) ON DELETE RESTRICT,
    name_zh           text NOT NULL,
    name_en           text NOT NULL,
    theme_code        text REFERENCES themes (code) ON DELETE RESTRICT,
    time_limit_hours  integer CHECK (time_limit_hours > 0),
    CONSTRAINT categories_kind_prefix CHECK (left(code, 1) = CASE kind WHEN 'component' THEN 'C' ELSE 'E' END),
    CONSTRAINT categories_parent_shape CHECK ((length(code) = 3) = (parent_code IS NULL))
);
INSERT INTO categories (code, kind, parent_code, name_zh, name_en, theme_code, time_limit_hours) VALUES
    ('C01', 'component', NULL, '公用设施',     'public utilities',                 NULL, NULL),
    ('C02', 'component', NULL, '道路交通',     'roads and traffic',                NULL, NULL),
    ('C03', 'component', NULL, '市容环境',     'city appearance and environment',  NULL, NULL),
    ('C04', 'component', NULL, '园林绿化',     'landscaping and greenery',         NULL, NULL),
    ('C05', 'component', NULL, '房屋土地',     'buildings and land',               NULL, NULL),
    ('C06', 'component', NULL, '其他设施',     'other facilities',                 NULL, NULL),
    ('E01', 'event',     NULL, '市容环境',     'city appearance and environment',  NULL, NULL),
    ('E02', 'event',     NULL, '宣传广告',     'advertising',                      NULL, NULL),
    ('E03', 'event',     NULL, '施工管理',     'construction',                     NULL, NULL),
    ('E04', 'event',     NULL, '突发事件',     'emergencies',                      NULL, NULL),
    ('E05', 'event',     NULL, '街面秩序',     'street order',                     NULL, NULL),
    ('C0101', 'component', 'C01', '上水井盖',   'water supply manhole cover',       'municipal_facilities', 24),
    ('C0102', 'component', 'C01', '污水井盖',   'sewage manhole cover',             'municipal_facilities', 24),
    ('C0103', 'component', 'C01', '雨水井盖',   'storm drain cover',                'municipal_facilities', 24),
    ('C0110', 'component', 'C01', '电力设施',   'power facility',                   'overhead_cables',      48),
    ('C0111', 'component', 'C01', '通信交接箱', 'telecom cabinet',                  'overhead_cables',      48),
    ('C0118', 'component', 'C01', '路灯',       'streetlight',                      'streetlight',          24),
    ('C0201', 'component', 'C02', '停车场',     'car park',                         'parking',              72),
    ('C0206', 'component', 'C02', '交通标志牌', 'traffic sign',                     'municipal_facilities', 48),
    ('C0213', 'component', 'C02', '地名牌',     'place-name sign',                  'place_name_signs',     72),
    ('C0301', 'component', 'C03', '公共厕所',   'public toilet',                    'sanitation',           24),
    ('C0302', 'component', 'C03', '垃圾箱',     'litter bin',                       'sanitation',           24),
    ('C0306', 'component', 'C03', '广告牌匾',   'billboard or shop sign',           'billboards',           72),
    ('C0401', 'component', 'C04', '古树名木',   'heritage tree',                    'greening',             72),
    ('C0402', 'component', 'C04', '行道树',     'street tree',                      'greening',             72),
    ('C0403', 'component', 'C04', '绿地',       'green space',                      'greening',             72),
    ('C0501', 'component', 'C05', '危房',       'unsafe building',                  'unsafe_buildings',     24),
    ('E0101', 'event', 'E01', '暴露垃圾',       'exposed garbage',                  'sanitation',            4),
    ('E0102', 'event', 'E01', '积存垃圾渣土',   'accumulated garbage and muck',     'sanitation',           24),
    ('E0103', 'event', 'E01', '道路不洁',       'dirty road',                       'sanitation',            4),
    ('E0106', 'event', 'E01', '绿地脏乱',       'untidy green space',               'greening',             24),
    ('E0110', 'event', 'E01', '犬只扰民',       'dog nuisance',                     'dog_keeping',          24),
    ('E0201', 'event', 'E02', '非法小广告',     'illegal small ads',                'billboards',           24),
    ('E0202', 'event', 'E02', '违章张贴悬挂',   'illegal posting and hanging',      'billboards',           24),
    ('E0301', 'event', 'E03', '违法建设',       'illegal construction',             'illegal_construction', 72),
    ('E0302', 'event', 'E03', '施工扰民',       'construction nuisance',            'illegal_construction', 24),
    ('E0401', 'event', 'E04', '路面塌陷',       'road collapse',                    'municipal_facilities',  2),
    ('E0402', 'event', 'E04', '自来水管破裂',   'water main burst',                 'municipal_facilities',  2),
    ('E0501', 'event', 'E05', '无照经营游商',   'unlicensed mobile vendor',         'mobile_vendors',        4),
    ('E0502', 'event', 'E05', '店外经营',       'business outside the shop',        'frontage',              4),
    ('E0503', 'event', 'E05', '占道经营',       'street occupation by stalls',      'market_order',          4),
    ('E0504', 'event', 'E05', '机动车乱停放',   'illegal car parking',              'parking',               2),
    ('E0505', 'event', 'E05', '非机动车乱停放', 'illegal bicycle parking',          'parking',               4),
    ('E0506', 'event', 'E05', '闲置地块脏乱',   'untidy idle land',                 'idle_land',            72);

CREATE TABLE objects (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    layer          text NOT NULL REFERENCES layers (code) ON DELETE RESTRICT,
    code           text UNIQUE CHECK (code <> ''),
    name           text NOT NULL DEFAULT '',
    category_code  text REFERENCES categories (code) ON DELETE RESTRICT,
    geom           geometry(Geometry, 4326) NOT NULL,
    length_m       double precision GENERATED ALWAYS AS
                       (CASE WHEN ST_Dimension(geom) = 1 THEN ST_Length(geom::geography) END) STORED,
    area_m2        double precision GENERATED ALWAYS AS
                       (CASE WHEN ST_Dimension(geom) = 2 THEN ST_Area(geom::geography) END) STORED,
    source         text NOT NULL DEFAULT 'manual',
    source_id      text,
    attrs          jsonb NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT objects_source_id UNIQUE (source, source_id),
    CONSTRAINT objects_geom_type CHECK (GeometryType(geom) IN
        ('POINT', 'MULTIPOINT', 'LINESTRING', 'MULTILINESTRING', 'POLYGON', 'MULTIPOLYGON')),
    CONSTRAINT objects_geom_valid CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom)),
    CONSTRAINT objects_geom_range CHECK (citygrid_in_range(geom))
);
CREATE INDEX objects_geom_gist ON objects USING gist (geom);
CREATE INDEX objects_layer ON objects (layer);
CREATE INDEX objects_name ON objects (name);

-- Who answers for what. A target is a grid (by its stable code, so that an
-- assignment survives redrawing), a region or an object; a street or alley
-- may be split into stretches measured in metres along the line.
CREATE TABLE assignments (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    theme_code   text NOT NULL REFERENCES themes (code) ON DELETE RESTRICT,
    unit_id      bigint NOT NULL REFERENCES units (id) ON DELETE RESTRICT,
    role         text NOT NULL CHECK (role IN ('lead', 'support')),
    target_kind  text NOT NULL CHECK (target_kind IN ('grid', 'region', 'object')),
    grid_code    text,
    region_id    bigint REFERENCES regions (id) ON DELETE RESTRICT,
    object_id    bigint REFERENCES objects (id) ON DELETE RESTRICT,
    from_m       double precision,
    to_m         double precision,
    valid_from   timestamptz NOT NULL DEFAULT now(),
    valid_to     timestamptz,
    note         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    target_key   text GENERATED ALWAYS AS
                     (target_kind || ':' || COALESCE(grid_code, region_id::text, object_id::text)) STORED,
    CONSTRAINT assignments_one_target CHECK (num_nonnulls(grid_code, region_id, object_id) = 1),
    CONSTRAINT assignments_target_kind CHECK (
        (target_kind = 'grid'   AND grid_code IS NOT NULL) OR
        (target_kind = 'region' AND region_id IS NOT NULL) OR
        (target_kind = 'object' AND object_id IS NOT NULL)),
    CONSTRAINT assignments_stretch CHECK (
        (from_m IS NULL AND to_m IS NULL) OR
        (target_kind = 'object' AND from_m IS NOT NULL AND to_m IS NOT NULL AND from_m >= 0 AND to_m > from_m)),
    CONSTRAINT assignments_validity CHECK (valid_to IS NULL OR valid_to > valid_from),
    -- One lead per target, theme, time and (for stretches) metre of line.
    CONSTRAINT assignments_one_lead EXCLUDE USING gist (
        target_key WITH =,
        theme_code WITH =,
        tstzrange(valid_from, valid_to) WITH &&,
        numrange(COALESCE(from_m, 0)::numeric, COALESCE(to_m::numeric, 'Infinity'::numeric)) WITH &&
    ) WHERE (role = 'lead')
);
CREATE INDEX assignments_unit ON assignments (unit_id);
CREATE INDEX assignments_live_target ON assignments (target_key, theme_code) WHERE valid_to IS NULL;
CREATE INDEX assignments_grid_code ON assignments (grid_code) WHERE grid_code IS NOT NULL;
CREATE INDEX assignments_region ON assignments (region_id) WHERE region_id IS NOT NULL;
CREATE INDEX assignments_object ON assignments (object_id) WHERE object_id IS NOT NULL;

CREATE TABLE users (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL UNIQUE CHECK (btrim(name) <> ''),
    role         text NOT NULL CHECK (role IN ('admin', 'planner', 'dispatcher', 'analyst', 'unit')),
    unit_id      bigint REFERENCES units (id) ON DELETE RESTRICT,
    created_at   timestamptz NOT NULL DEFAULT now(),
    disabled_at  timestamptz,
    CONSTRAINT users_unit_role CHECK ((role = 'unit') = (unit_id IS NOT NULL))
);

-- Only a SHA-256 of each token is kept; the token itself is shown once.
CREATE TABLE api_tokens (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          text NOT NULL DEFAULT '',
    token_hash    bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    prefix        text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    revoked_at    timestamptz,
    last_used_at  timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Every committed change of the spatial tables wakes every server's index
-- and tile cache; NOTIFY is transactional, so readers never see a change
-- that was rolled back, and one statement sends one notice.
-- +goose StatementBegin
CREATE FUNCTION citygrid_notify_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('citygrid_changed', TG_TABLE_NAME);
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER regions_changed     AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON regions     FOR EACH STATEMENT EXECUTE FUNCTION citygrid_notify_changed();
CREATE TRIGGER grids_changed       AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON grids       FOR EACH STATEMENT EXECUTE FUNCTION citygrid_notify_changed();
CREATE TRIGGER units_changed       AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON units       FOR EACH STATEMENT EXECUTE FUNCTION citygrid_notify_changed();
CREATE TRIGGER objects_changed     AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON objects     FOR EACH STATEMENT EXECUTE FUNCTION citygrid_notify_changed();
CREATE TRIGGER assignments_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON assignments FOR EACH STATEMENT EXECUTE FUNCTION citygrid_notify_changed();
CREATE TRIGGER api_tokens_changed  AFTER UPDATE OF revoked_at, expires_at OR DELETE OR TRUNCATE ON api_tokens FOR EACH STATEMENT EXECUTE FUNCTION citygrid_notify_changed();
CREATE TRIGGER users_changed       AFTER UPDATE OF role, unit_id, disabled_at OR DELETE OR TRUNCATE ON users FOR EACH STATEMENT EXECUTE FUNCTION citygrid_notify_changed();

-- +goose Down
DROP TABLE api_tokens;
DROP TABLE users;
DROP TABLE assignments;
DROP TABLE objects;
DROP TABLE categories;
DROP TABLE themes;
DROP TABLE layers;
DROP TABLE units;
DROP TABLE grids;
DROP TABLE regions;
DROP FUNCTION citygrid_notify_changed();
DROP FUNCTION citygrid_in_range(geometry);
-- The extensions stay: other databases objects may use them, and dropping
-- PostGIS needs rights an application role rarely has.
