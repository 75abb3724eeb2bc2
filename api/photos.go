package api

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/cases"
)

// isMultipart says whether a request carries a multipart/form-data body.
func isMultipart(c echo.Context) bool {
	mt, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	return err == nil && mt == echo.MIMEMultipartForm
}

// photoForm is a multipart body: its text fields and its photo parts.
type photoForm struct {
	fields map[string]string
	photos []cases.PhotoInput
}

// readPhotoForm streams a multipart body: each photo part is read up to
// the photo limit and refused past it (413 naming the part), so a huge
// upload is never held in memory; fields names the text fields allowed.
func (s *casesAPI) readPhotoForm(c echo.Context, fields ...string) (photoForm, error) {
	f := photoForm{fields: map[string]string{}}
	limit := s.cases.PhotoLimit()
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, int64(cases.MaxPhotos)*(limit+64<<10)+s.cfg.BodyLimit)
	mr, err := r.MultipartReader()
	if err != nil {
		return f, bad("body", "not a multipart/form-data body: %v", err)
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return f, nil
		}
		if err != nil {
			return f, partError(err)
		}
		name := part.FormName()
		switch {
		case name == "photo":
			if len(f.photos) == cases.MaxPhotos {
				return f, grids.Invalid("photo", "at most %d photos per request", cases.MaxPhotos)
			}
			in := cases.PhotoInput{Part: fmt.Sprintf("photo[%d]", len(f.photos)), Name: part.FileName()}
			if in.Data, err = io.ReadAll(io.LimitReader(part, limit+1)); err != nil {
				return f, partError(err)
			}
			if int64(len(in.Data)) > limit {
				return f, &cases.TooLargeError{Part: in.Part, Name: in.Name, Limit: limit}
			}
			f.photos = append(f.photos, in)
		case slices.Contains(fields, name):
			if _, dup := f.fields[name]; dup {
				return f, bad(name, "given twice")
			}
			v, err := io.ReadAll(io.LimitReader(part, s.cfg.BodyLimit+1))
			if err != nil {
				return f, partError(err)
			}
			if int64(len(v)) > s.cfg.BodyLimit {
				return f, &tooLarge{msg: fmt.Sprintf("%s: over %d bytes", name, s.cfg.BodyLimit)}
			}
			f.fields[name] = string(v)
		default:
			return f, bad(name, "unknown form field %q (the fields are photo and %s)", name, strings.Join(fields, ", "))
		}
	}
}

// partError keeps the body limit's error (413) and calls anything else a
// malformed body.
func partError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	return bad("body", "unreadable multipart body: %v", err)
}

// withHrefs points each stored photo at the route that serves its bytes.
func withHrefs(code string, ps []cases.Photo) []cases.Photo {
	for i := range ps {
		if ps[i].URL == nil {
			ps[i].Href = fmt.Sprintf("/api/v1/cases/%s/photos/%d", code, ps[i].ID)
		}
	}
	return ps
}

// addPhotos answers POST /api/v1/cases/{code}/photos: multipart photo
// parts and a stage.
func (s *casesAPI) addPhotos(c echo.Context) error {
	if !isMultipart(c) {
		return bad("body", "send multipart/form-data: one or more photo parts and a stage (report, handled or verify)")
	}
	f, err := s.readPhotoForm(c, "stage")
	if err != nil {
		return err
	}
	stage := strings.TrimSpace(f.fields["stage"])
	if stage == "" {
		return grids.Invalid("stage", "required: report, handled or verify")
	}
	code := c.Param("code")
	out, err := s.cases.AddPhotos(c.Request().Context(), principalOf(c), code, stage, f.photos)
	if err != nil {
		return err
	}
	status := http.StatusOK // every photo was already there
	for _, p := range out {
		if !p.Duplicate {
			status = http.StatusCreated
		}
	}
	return c.JSON(status, map[string]any{"code": code, "photos": withHrefs(code, out)})
}

// listPhotos answers GET /api/v1/cases/{code}/photos.
func (s *casesAPI) listPhotos(c echo.Context) error {
	code := c.Param("code")
	out, err := s.cases.Photos(c.Request().Context(), principalOf(c), code)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"code": code, "photos": withHrefs(code, out)})
}

// getPhoto answers GET /api/v1/cases/{code}/photos/{id}: the bytes, with
// their sniffed type; the ETag is their SHA-256, so a client revalidates
// for free, and only private caches may keep them.
func (s *casesAPI) getPhoto(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return bad("id", "must be a photo id (a positive whole number)")
	}
	p, data, err := s.cases.PhotoData(c.Request().Context(), principalOf(c), c.Param("code"), id)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	etag := `"` + *p.SHA256 + `"`
	h.Set("ETag", etag)
	h.Set("Cache-Control", "private, max-age=86400")
	h.Set("X-Content-Type-Options", "nosniff")
	if inm := c.Request().Header.Get("If-None-Match"); inm != "" && slices.Contains(splitETags(inm), etag) {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, *p.ContentType, data)
}

func splitETags(v string) []string {
	var out []string
	for _, t := range strings.Split(v, ",") {
		out = append(out, strings.TrimPrefix(strings.TrimSpace(t), "W/"))
	}
	return out
}

// readMultipartCase reads a multipart intake: the case JSON in a case
// part and photo parts. The idempotency hash covers the JSON and every
// photo's bytes, so a retry with other photos is another request.
func (s *casesAPI) readMultipartCase(c echo.Context, in *cases.CreateInput) ([]byte, error) {
	f, err := s.readPhotoForm(c, "case")
	if err != nil {
		return nil, err
	}
	body, ok := f.fields["case"]
	if !ok {
		return nil, grids.Invalid("case", "required: a case part with the report as JSON")
	}
	if err := decodeBytes([]byte(body), in); err != nil {
		return nil, err
	}
	in.Photos = f.photos
	h := sha256.New()
	h.Write(canonicalJSON([]byte(body)))
	for _, p := range f.photos {
		sum := sha256.Sum256(p.Data)
		h.Write(sum[:])
	}
	return h.Sum(nil), nil
}

// readMultipartAction reads a transition with photos: note and passed
// fields and photo parts.
func (s *casesAPI) readMultipartAction(c echo.Context, in *cases.ActionInput) error {
	f, err := s.readPhotoForm(c, "note", "passed")
	if err != nil {
		return err
	}
	in.Note, in.Photos = f.fields["note"], f.photos
	if v, ok := f.fields["passed"]; ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return bad("passed", "must be true or false")
		}
		in.Passed = &b
	}
	return nil
}
