-- The working calendar (工作日历) behind the time limits of cases: the
-- exceptions to "Monday to Friday are working days", per local day in the
-- calendar's time zone. A holiday (法定节假日) is not a working day even on
-- a weekday; a workday (调休上班) is a working day even on a Saturday or
-- Sunday. grids/calendar checks each year's rows before they are written
-- (a workday on a weekday is refused); the table keeps only what the clock
-- needs to stay consistent.
--
-- The 2026 rows are the State Council's schedule, 国务院办公厅关于2026年部分
-- 节假日安排的通知 of 4 November 2025, as Xinhua published it
-- (https://politics.gmw.cn/2025-11/04/content_38391083.htm). Every day of
-- each break is a holiday, its weekend days too, as the notice counts them
-- (春节 "共9天"); the weekend days change nothing on the clock.

-- +goose Up
CREATE TABLE calendar_days (
    day   date PRIMARY KEY,
    kind  text NOT NULL CHECK (kind IN ('holiday', 'workday')),
    name  text NOT NULL DEFAULT '' CHECK (length(name) <= 100),
    -- Saturday and Sunday are ISODOW 6 and 7: a workday there is the only
    -- kind of workday that means anything.
    CONSTRAINT calendar_days_workday_on_weekend CHECK (kind <> 'workday' OR extract(isodow FROM day) >= 6)
);

CREATE TRIGGER calendar_days_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON calendar_days
    FOR EACH STATEMENT EXECUTE FUNCTION citygrid_notify_changed();

INSERT INTO calendar_days (day, kind, name)
SELECT d::date, 'holiday', h.name
FROM (VALUES
    ('元旦',   date '2026-01-01', date '2026-01-03'),
    ('春节',   date '2026-02-15', date '2026-02-23'),
    ('清明节', date '2026-04-04', date '2026-04-06'),
    ('劳动节', date '2026-05-01', date '2026-05-05'),
    ('端午节', date '2026-06-19', date '2026-06-21'),
    ('中秋节', date '2026-09-25', date '2026-09-27'),
    ('国庆节', date '2026-10-01', date '2026-10-07')
) AS h (name, first, last),
LATERAL generate_series(h.first, h.last, interval '1 day') AS d
UNION ALL
SELECT w.day, 'workday', w.name
FROM (VALUES
    (date '2026-01-04', '元旦调休上班'),
    (date '2026-02-14', '春节调休上班'),
    (date '2026-02-28', '春节调休上班'),
    (date '2026-05-09', '劳动节调休上班'),
    (date '2026-09-20', '国庆节调休上班'),
    (date '2026-10-10', '国庆节调休上班')
) AS w (day, name);

-- +goose Down
DROP TABLE calendar_days;
