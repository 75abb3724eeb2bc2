-- Intake spends less of PostgreSQL per report.
--
-- citygrid_in_range loses STRICT. A STRICT SQL function whose body is not
-- itself strict (AND is not) is never inlined, so every statement that
-- checked a geometry's range (each case report's insert among them)
-- planned and ran the function's body through the SQL-function executor.
-- Inlined, the check is four comparisons. A NULL geometry still gives
-- NULL, which a CHECK constraint lets through as before.
--
-- citygrid_next_case_number takes a case code's number in one statement,
-- in a transaction whose commit does not wait for the disk (see
-- cases.Store.newCode): two statements in a batch before.

-- +goose Up
CREATE OR REPLACE FUNCTION citygrid_in_range(g geometry) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ST_XMin(g) >= -180 AND ST_XMax(g) <= 180 AND ST_YMin(g) >= -90 AND ST_YMax(g) <= 90;

-- +goose StatementBegin
CREATE FUNCTION citygrid_next_case_number(code_prefix text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    -- Local to the transaction, which is this statement's own.
    PERFORM set_config('synchronous_commit', 'off', true);
    INSERT INTO case_sequences (prefix, last) VALUES (code_prefix, 1)
    ON CONFLICT (prefix) DO UPDATE SET last = case_sequences.last + 1
    RETURNING last INTO n;
    RETURN n;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION citygrid_next_case_number(text);

CREATE OR REPLACE FUNCTION citygrid_in_range(g geometry) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ST_XMin(g) >= -180 AND ST_XMax(g) <= 180 AND ST_YMin(g) >= -90 AND ST_YMax(g) <= 90;
