package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/cases"
	"github.com/citygrid/citygrid/grids/ingest"
	"github.com/citygrid/citygrid/grids/search"
)

// ErrorBody is every error response: {"error": {...}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong, for people and for programs.
type ErrorDetail struct {
	Code      string             `json:"code"`
	Message   string             `json:"message"`
	Field     string             `json:"field,omitempty"`
	Details   []grids.FieldError `json:"details,omitempty"`
	RequestID string             `json:"request_id,omitempty"`

	// Candidates are the best places for an address that matched none
	// ([]search.Result, possibly empty).
	Candidates any `json:"candidates,omitempty"`
}

// bad refuses an input the API could not even read: malformed JSON, an
// unknown field, a wrong type, a bad query parameter (400). It is the
// domain's kind, so that HTTP and the domain refuse alike.
func bad(field, format string, args ...any) error {
	return grids.Malformed(field, format, args...)
}

// handleError is the one place where errors become HTTP statuses. Domain
// errors say what the client got wrong; anything else is logged with the
// request id and answered as a bare 500 so internals never leak.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, body := s.errorResponse(err, c)
	body.Error.RequestID = c.Response().Header().Get(echo.HeaderXRequestID)
	if status == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="citygrid"`)
	}
	var werr error
	if c.Request().Method == http.MethodHead {
		werr = c.NoContent(status)
	} else {
		werr = c.JSON(status, body)
	}
	if werr != nil {
		s.log.Debug("writing error response", "err", werr)
	}
}

func (s *Server) errorResponse(err error, c echo.Context) (int, ErrorBody) {
	var (
		ve  *grids.ValidationError
		me  *grids.MalformedError
		nf  *grids.NotFoundError
		ce  *grids.ConflictError
		he  *echo.HTTPError
		mbe *http.MaxBytesError
		tl  *tooLarge
		ue  *unavailable
		ie  *ingest.ImportError
		pt  *cases.TooLargeError
		nm  *search.NoMatchError
	)
	e := func(code, msg string) ErrorDetail { return ErrorDetail{Code: code, Message: msg} }
	switch {
	case errors.As(err, &ie):
		d := e("invalid_features", fmt.Sprintf("nothing was imported: %d problem(s); the first: %v", ie.Total, ie))
		d.Details = importProblems(ie)
		if len(d.Details) > 0 {
			d.Field = d.Details[0].Field
		}
		return http.StatusUnprocessableEntity, ErrorBody{d}
	case errors.As(err, &nm):
		d := e("address_not_found", nm.Error())
		d.Field, d.Candidates = "address", nm.Candidates
		if nm.Candidates == nil {
			d.Candidates = []search.Result{}
		}
		return http.StatusUnprocessableEntity, ErrorBody{d}
	case errors.As(err, &ve):
		d := e("invalid", ve.Error())
		d.Details = ve.Problems
		if len(ve.Problems) > 0 {
			d.Field = ve.Problems[0].Field
		}
		return http.StatusUnprocessableEntity, ErrorBody{d}
	case errors.As(err, &me):
		d := e("bad_request", me.Error())
		d.Field = me.Field
		d.Details = []grids.FieldError{{Field: me.Field, Message: me.Message}}
		return http.StatusBadRequest, ErrorBody{d}
	case errors.As(err, &nf):
		return http.StatusNotFound, ErrorBody{e("not_found", nf.Error())}
	case errors.As(err, &ce):
		d := e("conflict", ce.Error())
		d.Field, d.Details = ce.Field, ce.Details
		return http.StatusConflict, ErrorBody{d}
	case errors.Is(err, grids.ErrUnauthenticated):
		return http.StatusUnauthorized, ErrorBody{e("unauthorized", "a valid token is required: send Authorization: Bearer <token>")}
	case errors.Is(err, grids.ErrForbidden):
		return http.StatusForbidden, ErrorBody{e("forbidden", err.Error())}
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, ErrorBody{e("too_large", fmt.Sprintf("request body over %d bytes", mbe.Limit))}
	case errors.As(err, &pt):
		d := e("too_large", pt.Error())
		d.Field = pt.Part
		return http.StatusRequestEntityTooLarge, ErrorBody{d}
	case errors.As(err, &tl):
		return http.StatusRequestEntityTooLarge, ErrorBody{e("too_large", tl.Error())}
	case errors.Is(err, errBusy):
		c.Response().Header().Set("Retry-After", "10")
		return http.StatusServiceUnavailable, ErrorBody{e("busy", err.Error())}
	case errors.As(err, &ue):
		return http.StatusServiceUnavailable, ErrorBody{e("service_unavailable", ue.msg)}
	case errors.As(err, &he):
		msg := http.StatusText(he.Code)
		if m, ok := he.Message.(string); ok {
			msg = m
		}
		code := strings.ToLower(strings.ReplaceAll(http.StatusText(he.Code), " ", "_"))
		return he.Code, ErrorBody{e(code, msg)}
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this answer.
		return 499, ErrorBody{e("cancelled", "request cancelled")}
	}
	s.log.Error("internal error", "err", err, "request_id", c.Response().Header().Get(echo.HeaderXRequestID),
		"method", c.Request().Method, "route", c.Path())
	return http.StatusInternalServerError, ErrorBody{e("internal", "internal error; quote the request id when reporting it")}
}

// errBusy refuses work the server has no room for now; the client should
// retry later.
var errBusy = errors.New("too many exports are running on this server; retry in a few seconds")

// tooLarge is a request within the byte limit that asks for too much work
// (more points than a batch takes, say).
type tooLarge struct{ msg string }

func (e *tooLarge) Error() string { return e.msg }

// unavailable is work the server gave up on (a tile that took longer than
// its rendering timeout): a 503 without Retry-After, as retrying at once
// would fail the same way.
type unavailable struct{ msg string }

func (e *unavailable) Error() string { return e.msg }

// decodeJSON reads a JSON body strictly: unknown fields, wrong types,
// trailing data and oversized bodies are each a clear 4xx naming the field.
func decodeJSON(c echo.Context, limit int64, v any) error {
	return decodeStrict(http.MaxBytesReader(c.Response(), c.Request().Body, limit), v)
}

// decodeStrict reads one JSON value from r as decodeJSON does.
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("body", "unexpected data after the JSON value")
	}
	return nil
}

func jsonError(err error) error {
	var (
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.Is(err, io.EOF):
		return bad("body", "the request body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return bad("body", "the JSON body ends too early")
	case errors.As(err, &se):
		return bad("body", "malformed JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return bad(field, "wrong type: got a JSON %s, want %s", te.Value, jsonTypeName(te.Type.String()))
	case errors.As(err, &mbe):
		return err
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return bad(f, "unknown field %q", f)
	}
	return bad("body", "%v", err)
}

func jsonTypeName(goType string) string {
	switch {
	case strings.Contains(goType, "string"):
		return "a string"
	case strings.Contains(goType, "int"), strings.Contains(goType, "float"):
		return "a number"
	case strings.Contains(goType, "bool"):
		return "true or false"
	case strings.HasPrefix(goType, "map"), strings.Contains(goType, "struct"), strings.Contains(goType, "Contact"):
		return "an object"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	}
	return goType
}

// logAttrs is shared by the error logs.
func logAttrs(c echo.Context) []any { return []any{requestIDAttr(c)} }

// requestIDAttr ties a log line to its request, in the access log and the
// error logs alike.
func requestIDAttr(c echo.Context) slog.Attr {
	return slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID))
}
