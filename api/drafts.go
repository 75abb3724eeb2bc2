package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/drafts"
)

// draftsAPI serves planners' drafts of a region's grids, their publish
// and a region's rollback.
type draftsAPI struct {
	drafts *drafts.Store
	// resolver is this server's locate index, rebuilt before a publish
	// answers (the other servers' follow the change notification).
	resolver *grids.Resolver
	log      *slog.Logger
	cfg      Config
}

func draftID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, bad("id", "want a draft id (a positive number)")
	}
	return id, nil
}

// ifMatch is the ETag a change is made against; a change without one
// could silently overwrite another planner's, so it is refused (428).
func ifMatch(c echo.Context) (string, error) {
	v := c.Request().Header.Get("If-Match")
	if v == "" {
		return "", echo.NewHTTPError(http.StatusPreconditionRequired, "If-Match is required: send the draft's ETag (from GET /api/v1/drafts/{id})")
	}
	return v, nil
}

// answer sends a draft after a change with its new ETag; a stale ETag
// becomes 412.
func answer(c echo.Context, status int, d drafts.Draft, err error) error {
	if err != nil {
		return stale(c, err)
	}
	c.Response().Header().Set("ETag", d.ETag)
	return c.JSON(status, d)
}

// stale turns a change refused for a stale ETag into 412 with the current
// ETag; other errors pass.
func stale(c echo.Context, err error) error {
	var se *drafts.StaleError
	if errors.As(err, &se) {
		c.Response().Header().Set("ETag", se.Current)
		return echo.NewHTTPError(http.StatusPreconditionFailed, se.Error())
	}
	return err
}

func (s *draftsAPI) list(c echo.Context) error {
	list, err := s.drafts.List(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": list})
}

func (s *draftsAPI) create(c echo.Context) error {
	var in struct {
		Region string `json:"region"`
		Name   string `json:"name"`
	}
	if err := decodeJSON(c, s.cfg.BodyLimit, &in); err != nil {
		return err
	}
	d, err := s.drafts.Create(c.Request().Context(), principalOf(c), in.Region, in.Name)
	if err == nil {
		c.Response().Header().Set(echo.HeaderLocation, "/api/v1/drafts/"+strconv.FormatInt(d.ID, 10))
	}
	return answer(c, http.StatusCreated, d, err)
}

func (s *draftsAPI) get(c echo.Context) error {
	id, err := draftID(c)
	if err != nil {
		return err
	}
	d, err := s.drafts.Get(c.Request().Context(), id)
	return answer(c, http.StatusOK, d, err)
}

// change reads the draft id, If-Match and the JSON body (when in is not
// nil) every change starts with.
func (s *draftsAPI) change(c echo.Context, in any) (int64, string, error) {
	id, err := draftID(c)
	if err != nil {
		return 0, "", err
	}
	etag, err := ifMatch(c)
	if err != nil {
		return 0, "", err
	}
	if in != nil {
		if err := decodeJSON(c, s.cfg.BodyLimit, in); err != nil {
			return 0, "", err
		}
	}
	return id, etag, nil
}

// changeOptional is change with a body that may be empty (in keeps its
// defaults then).
func (s *draftsAPI) changeOptional(c echo.Context, in any) (int64, string, error) {
	id, etag, err := s.change(c, nil)
	if err != nil || c.Request().ContentLength == 0 {
		return id, etag, err
	}
	return id, etag, decodeJSON(c, s.cfg.BodyLimit, in)
}

func (s *draftsAPI) rename(c echo.Context) error {
	var in struct {
		Name string `json:"name"`
	}
	id, etag, err := s.change(c, &in)
	if err != nil {
		return err
	}
	d, err := s.drafts.Rename(c.Request().Context(), id, etag, in.Name)
	return answer(c, http.StatusOK, d, err)
}

func (s *draftsAPI) discard(c echo.Context) error {
	id, etag, err := s.change(c, nil)
	if err != nil {
		return err
	}
	if err := s.drafts.Discard(c.Request().Context(), id, etag); err != nil {
		return answer(c, 0, drafts.Draft{}, err)
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *draftsAPI) grids(c echo.Context) error {
	id, err := draftID(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/geo+json")
	return s.drafts.WriteGrids(c.Request().Context(), id, &lazyWriter{c: c})
}

type draftGridBody struct {
	Name      *string         `json:"name"`
	Community string          `json:"community"`
	Geometry  json.RawMessage `json:"geometry"`
}

func (s *draftsAPI) addGrid(c echo.Context) error {
	var in draftGridBody
	id, etag, err := s.change(c, &in)
	if err != nil {
		return err
	}
	g, err := bodyGeometry(c, in.Geometry, "a grid")
	if err != nil {
		return err
	}
	ng := drafts.NewGrid{Community: in.Community, Geometry: g}
	if in.Name != nil {
		ng.Name = *in.Name
	}
	d, err := s.drafts.AddGrid(c.Request().Context(), principalOf(c), id, etag, ng)
	return answer(c, http.StatusCreated, d, err)
}

func (s *draftsAPI) updateGrid(c echo.Context) error {
	var in draftGridBody
	id, etag, err := s.change(c, &in)
	if err != nil {
		return err
	}
	if in.Community != "" {
		return bad("community", "a grid keeps its community; draw a new grid instead")
	}
	g, err := bodyGeometry(c, in.Geometry, "a grid")
	if err != nil {
		return err
	}
	d, err := s.drafts.UpdateGrid(c.Request().Context(), principalOf(c), id, etag, c.Param("code"), drafts.GridChange{Name: in.Name, Geometry: g})
	return answer(c, http.StatusOK, d, err)
}

func (s *draftsAPI) deleteGrid(c echo.Context) error {
	id, etag, err := s.change(c, nil)
	if err != nil {
		return err
	}
	d, err := s.drafts.DeleteGrid(c.Request().Context(), principalOf(c), id, etag, c.Param("code"))
	return answer(c, http.StatusOK, d, err)
}

func (s *draftsAPI) split(c echo.Context) error {
	var in struct {
		Code string          `json:"code"`
		Line json.RawMessage `json:"line"`
	}
	id, etag, err := s.change(c, &in)
	if err != nil {
		return err
	}
	crs, err := crsParam(c)
	if err != nil {
		return err
	}
	line, err := parseGeometry("line", in.Line, crs)
	if err != nil {
		return err
	}
	if line == nil {
		return grids.Invalid("line", "required: a GeoJSON LineString across the grid")
	}
	d, err := s.drafts.Split(c.Request().Context(), principalOf(c), id, etag, in.Code, line)
	return answer(c, http.StatusOK, d, err)
}

func (s *draftsAPI) merge(c echo.Context) error {
	var in struct {
		Codes []string `json:"codes"`
		Name  string   `json:"name"`
	}
	id, etag, err := s.change(c, &in)
	if err != nil {
		return err
	}
	d, err := s.drafts.Merge(c.Request().Context(), principalOf(c), id, etag, in.Codes, in.Name)
	return answer(c, http.StatusOK, d, err)
}

func (s *draftsAPI) derive(c echo.Context) error {
	var in struct {
		TargetArea *float64 `json:"target_area"`
		TargetLoad *float64 `json:"target_load"`
	}
	id, etag, err := s.change(c, &in)
	if err != nil {
		return err
	}
	d, err := s.drafts.Derive(c.Request().Context(), principalOf(c), id, etag, drafts.DeriveInput{TargetArea: in.TargetArea, TargetLoad: in.TargetLoad})
	return answer(c, http.StatusOK, d, err)
}

func (s *draftsAPI) undo(c echo.Context) error {
	in := struct {
		Steps int `json:"steps"`
	}{Steps: 1}
	// An empty body undoes one step.
	id, etag, err := s.changeOptional(c, &in)
	if err != nil {
		return err
	}
	d, err := s.drafts.Undo(c.Request().Context(), principalOf(c), id, etag, in.Steps)
	return answer(c, http.StatusOK, d, err)
}

func (s *draftsAPI) steps(c echo.Context) error {
	id, err := draftID(c)
	if err != nil {
		return err
	}
	steps, err := s.drafts.Steps(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": steps})
}

// check streams the tiling check of the draft's grids as GeoJSON.
func (s *draftsAPI) check(c echo.Context) error {
	id, err := draftID(c)
	if err != nil {
		return err
	}
	opt, err := gridCheckOptions(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/geo+json")
	return s.drafts.Check(c.Request().Context(), id, opt, &lazyWriter{c: c})
}

// impact answers what publishing the draft would change: JSON, or the
// changed areas as GeoJSON with ?f=geojson or Accept: application/geo+json.
func (s *draftsAPI) impact(c echo.Context) error {
	id, err := draftID(c)
	if err != nil {
		return err
	}
	f := c.QueryParam("f")
	if f != "" && f != "json" && f != "geojson" {
		return bad("f", "want json or geojson")
	}
	if f == "geojson" || (f == "" && strings.Contains(c.Request().Header.Get("Accept"), "application/geo+json")) {
		body, err := s.drafts.ImpactGeoJSON(c.Request().Context(), id)
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, "application/geo+json", body)
	}
	im, err := s.drafts.Impact(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, im)
}

// publishBody is what a publish or a rollback may choose: per grid
// assignment (by id), the draft grid code to carry it to, several codes,
// or "drop".
type publishBody struct {
	Assignments map[string]json.RawMessage `json:"assignments"`
}

// options reads the choices and the check's size guideline.
func (b publishBody) options(c echo.Context) (drafts.PublishOptions, error) {
	opt := drafts.PublishOptions{Assignments: map[int64][]string{}}
	var err error
	if opt.Check, err = gridCheckOptions(c); err != nil {
		return opt, err
	}
	for k, v := range b.Assignments {
		field := "assignments." + k
		id, err := strconv.ParseInt(k, 10, 64)
		if err != nil || id <= 0 {
			return opt, bad(field, "want an assignment id as the key")
		}
		var one string
		var many []string
		switch {
		case json.Unmarshal(v, &one) == nil && one == "drop":
			opt.Assignments[id] = []string{}
		case one != "":
			opt.Assignments[id] = []string{one}
		case json.Unmarshal(v, &many) == nil && len(many) > 0:
			opt.Assignments[id] = many
		default:
			return opt, bad(field, `want a draft grid code, a list of codes, or "drop"`)
		}
	}
	return opt, nil
}

// published answers a publish once this server's locate index holds the
// new layout, so that a locate sent after the answer finds it.
func (s *draftsAPI) published(c echo.Context, p drafts.Published, err error) error {
	if err != nil {
		return stale(c, err)
	}
	if err := s.resolver.Rebuild(c.Request().Context()); err != nil {
		// The change notification rebuilds it again shortly.
		s.log.Error("rebuilding the locate index after a publish", "draft", p.Draft, "err", err)
	}
	c.Response().Header().Set("ETag", p.ETag)
	return c.JSON(http.StatusOK, p)
}

// publish replaces the live grids of the draft's region with the draft's.
func (s *draftsAPI) publish(c echo.Context) error {
	var in publishBody
	// An empty body carries every assignment as the impact proposes.
	id, etag, err := s.changeOptional(c, &in)
	if err != nil {
		return err
	}
	opt, err := in.options(c)
	if err != nil {
		return err
	}
	p, err := s.drafts.Publish(c.Request().Context(), principalOf(c), id, etag, opt)
	return s.published(c, p, err)
}

// rollback publishes the layout a region had at a moment.
func (s *draftsAPI) rollback(c echo.Context) error {
	var in struct {
		To   string `json:"to"`
		Name string `json:"name"`
		publishBody
	}
	if err := decodeJSON(c, s.cfg.BodyLimit, &in); err != nil {
		return err
	}
	if in.To == "" {
		return grids.Invalid("to", "required: the moment whose layout to restore, an RFC 3339 time such as 2026-01-31T08:00:00+08:00")
	}
	to, err := time.Parse(time.RFC3339Nano, in.To)
	if err != nil {
		return bad("to", "want an RFC 3339 time such as 2026-01-31T08:00:00+08:00")
	}
	opt, err := in.options(c)
	if err != nil {
		return err
	}
	p, err := s.drafts.Rollback(c.Request().Context(), principalOf(c), c.Param("code"), to, in.Name, opt)
	return s.published(c, p, err)
}

// load answers the load figures of the draft's grids, scored against the
// live grids of its region.
func (s *draftsAPI) load(c echo.Context) error {
	id, err := draftID(c)
	if err != nil {
		return err
	}
	opt, err := loadOptions(c)
	if err != nil {
		return err
	}
	r, err := s.drafts.Load(c.Request().Context(), id, opt)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}
