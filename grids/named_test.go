package grids_test

import (
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
)

func TestNamedArgs(t *testing.T) {
	q := &grids.Named{SQL: `SELECT @b::int, '@a', @a, @b -- @c`}
	for _, tc := range []struct {
		args pgx.NamedArgs
		want []any
	}{
		{pgx.NamedArgs{"a": 1, "b": "x"}, []any{"x", 1}},
		{pgx.NamedArgs{"a": nil, "b": 2.5}, []any{2.5, nil}},
	} {
		sql, args, err := q.Args(tc.args)
		if err != nil {
			t.Fatal(err)
		}
		if sql != `SELECT $1::int, '@a', $2, $1 -- @c` || !reflect.DeepEqual(args, tc.want) {
			t.Errorf("Args(%v) = %q, %v; want %v", tc.args, sql, args, tc.want)
		}
	}
	if _, _, err := q.Args(pgx.NamedArgs{"a": 1}); err == nil {
		t.Error("an argument missing: no error")
	}
	if _, _, err := (&grids.Named{SQL: `SELECT @a`}).Args(pgx.NamedArgs{"a": 1, "z": 2}); err == nil {
		t.Error("an argument the statement does not use: no error")
	}
}
