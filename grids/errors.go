package grids

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// NotFoundError says that a thing named by the caller does not exist.
type NotFoundError struct {
	What string // "unit", "region", …
	Key  string // the code or id the caller gave
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %q not found", e.What, e.Key) }

// FieldError is one problem with one input field. Field is the JSON name as
// the client sent it, with dots and indexes for nesting ("contact.phone",
// "features/3/geometry").
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists what is wrong with an input; nothing was written.
type ValidationError struct {
	Problems []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Message
	}
	return strings.Join(parts, "; ")
}

// Invalid builds a ValidationError about one field.
func Invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Problems: []FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}

// problems collects field errors while a whole input is checked, so the
// client learns every mistake at once.
type problems []FieldError

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &ValidationError{Problems: p}
}

// ConflictError says the change collides with existing data: a duplicate
// code, a second lead, a row still in use.
type ConflictError struct {
	Field   string
	Message string
}

func (e *ConflictError) Error() string { return e.Message }

// ErrUnauthenticated means no valid credentials were presented.
var ErrUnauthenticated = errors.New("missing, unknown, expired or revoked token")

// ErrForbidden means the credentials are valid but do not allow the action.
var ErrForbidden = errors.New("this role may not do that")

// pgConstraint returns the name of the constraint a database error broke, and
// its SQLSTATE, so callers can turn it into a precise domain error.
func pgConstraint(err error) (name, state string) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.ConstraintName, pe.Code
	}
	return "", ""
}

const (
	sqlUniqueViolation     = "23505"
	sqlForeignKeyViolation = "23503"
	sqlExclusionViolation  = "23P01"
	sqlCheckViolation      = "23514"
)
