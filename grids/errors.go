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

// OptionError refuses an operation asked for in a way no data could
// satisfy: a required option missing, or one it does not take. It is
// the caller's wording that is wrong, not the data (that is a
// ValidationError), so the API answers it as a bad request.
type OptionError struct {
	Field   string
	Message string
}

func (e *OptionError) Error() string { return e.Field + ": " + e.Message }

// BadOption builds an OptionError about one option.
func BadOption(field, format string, args ...any) *OptionError {
	return &OptionError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Problems collects field errors while a whole input is checked, so the
// client learns every mistake at once.
type Problems []FieldError

func (p *Problems) Add(field, format string, args ...any) {
	*p = append(*p, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (p Problems) Err() error {
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

// PgConstraint returns the name of the constraint a database error broke, and
// its SQLSTATE, so callers can turn it into a precise domain error.
func PgConstraint(err error) (name, state string) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.ConstraintName, pe.Code
	}
	return "", ""
}

// SQLSTATE codes of the constraint violations that become domain errors.
const (
	SQLUniqueViolation     = "23505"
	SQLForeignKeyViolation = "23503"
	SQLExclusionViolation  = "23P01"
	SQLCheckViolation      = "23514"
)
