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
	// Hint, when set, says what there is instead ("the layers are …").
	Hint string
}

func (e *NotFoundError) Error() string {
	msg := fmt.Sprintf("%s %q not found", e.What, e.Key)
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// MalformedError says an input could not even be read: a malformed or
// unknown parameter, one that does not apply, malformed JSON, a wrong
// type. ValidationError is for input that was read and breaks a rule.
type MalformedError struct {
	Field   string
	Message string
}

func (e *MalformedError) Error() string { return e.Field + ": " + e.Message }

// Malformed builds a MalformedError about one field.
func Malformed(field, format string, args ...any) *MalformedError {
	return &MalformedError{Field: field, Message: fmt.Sprintf(format, args...)}
}

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
	// Details, when set, list what collided one by one (the grids that
	// changed under a draft).
	Details []FieldError
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
