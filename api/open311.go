package api

import (
	"context"
	"crypto/sha256"
	"encoding/xml"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/cases"
)

// open311API serves Open311 GeoReport v2 (wiki.open311.org/GeoReport_v2)
// over the cases: a service is a minor class of the categories, a service
// request is a case filed by a citizen's app or another city system. It
// translates only: intake, routing and visibility are the cases store's.
type open311API struct {
	cases *cases.Store
	cfg   Config
	// principal and errorResponse are the server's, so that a token and an
	// error mean here what they mean under /api/v1.
	principal     func(ctx context.Context, secret string) (grids.Principal, error)
	errorResponse func(err error, c echo.Context) (int, ErrorBody)
}

// open311Changeset dates this endpoint's behaviour, for discovery.
const open311Changeset = "2026-12-01T00:00:00Z"

// open311Window is the longest span of report times a list may ask for,
// and the default span back from now (the specification's 90 days).
const open311Window = 90 * 24 * time.Hour

// open311Max is the most requests a list answers (the specification's 1000).
const open311Max = 1000

// open311Routes registers /open311/v2. Open311 clients expect the endpoint
// root to hold discovery, services and requests with a format suffix, and
// send the token as api_key; Bearer works too. Discovery and the services
// are public, as in the specification (reference data, no cases); the
// requests need a token, and filing one a role that may file cases.
func (s *Server) open311Routes(reporters echo.MiddlewareFunc) {
	var cs *cases.Store
	if s.cases != nil {
		cs = s.cases.cases
	}
	o := &open311API{cases: cs, cfg: s.cfg, principal: s.principal, errorResponse: s.errorResponse}
	g := s.echo.Group("/open311/v2", o.errors)
	g.GET("/discovery.json", o.discovery)
	g.GET("/discovery.xml", o.discovery)
	g.GET("/services.json", o.services)
	g.GET("/services.xml", o.services)
	g.GET("/services/:file", o.serviceDefinition)
	g.GET("/requests.json", o.listRequests, o.authenticate)
	g.GET("/requests.xml", o.listRequests, o.authenticate)
	g.POST("/requests.json", o.createRequest, o.authenticate, reporters)
	g.POST("/requests.xml", o.createRequest, o.authenticate, reporters)
	g.GET("/requests/:file", o.getRequest, o.authenticate)
}

// format is the answer's format from the path's suffix.
func open311Format(c echo.Context) string {
	if strings.HasSuffix(c.Request().URL.Path, ".xml") {
		return "xml"
	}
	return "json"
}

// fileParam splits a path parameter such as "E0504.json" into the name and
// the format; any other suffix is no such resource.
func fileParam(c echo.Context, what string) (string, error) {
	v := c.Param("file")
	for _, ext := range []string{".json", ".xml"} {
		if name, ok := strings.CutSuffix(v, ext); ok && name != "" {
			return name, nil
		}
	}
	return "", &grids.NotFoundError{What: what, Key: v, Hint: "add .json or .xml to the " + what}
}

// write answers in the request's format: v as JSON, or x (the
// specification's XML shape of v) as XML.
func (o *open311API) write(c echo.Context, status int, v, x any) error {
	if open311Format(c) == "xml" {
		b, err := xml.Marshal(x)
		if err != nil {
			return err
		}
		return c.Blob(status, "text/xml; charset=UTF-8", append([]byte(xml.Header), b...))
	}
	return c.JSON(status, v)
}

// open311Error is one error of the specification's error array.
type open311Error struct {
	Code        int    `json:"code" xml:"code"`
	Description string `json:"description" xml:"description"`
}

type open311Errors struct {
	XMLName xml.Name       `xml:"errors"`
	Errors  []open311Error `xml:"error"`
}

// open311Fields names the case fields as an Open311 client sent them.
var open311Fields = map[string]string{
	"lon": "long", "lat": "lat", "crs": "long", "category": "service_code", "address": "address_string",
	"photo_urls": "media_url", "photo_urls[0]": "media_url", "reporter_name": "first_name",
	"reporter_phone": "phone", "source": "attribute[source]", "object_id": "address_id",
}

// errors answers every error of the endpoint as the specification's error
// array, with the status of the one error mapper, except that a missing or
// bad api_key is 403 and a refused input 400, as the specification says.
func (o *open311API) errors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if err == nil || c.Response().Committed {
			return err
		}
		status, body := o.errorResponse(err, c)
		var list []open311Error
		var ve *grids.ValidationError
		switch {
		case status == http.StatusUnauthorized:
			status = http.StatusForbidden
			body.Error.Message = "api_key is missing or not a valid token: send api_key=<token> (or Authorization: Bearer <token>)"
		case errors.As(err, &ve):
			status = http.StatusBadRequest
			for _, p := range ve.Problems {
				field := p.Field
				if f, ok := open311Fields[field]; ok {
					field = f
				}
				list = append(list, open311Error{Code: status, Description: field + ": " + p.Message})
			}
		}
		if len(list) == 0 {
			list = []open311Error{{Code: status, Description: body.Error.Message}}
		}
		return o.write(c, status, list, open311Errors{Errors: list})
	}
}

// authenticate takes the token from api_key (query or form) or from a
// Bearer header.
func (o *open311API) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Body != nil {
			r.Body = http.MaxBytesReader(c.Response(), r.Body, o.cfg.BodyLimit)
		}
		if r.Method == http.MethodPost {
			if err := parseOpen311Form(r); err != nil {
				return err
			}
		}
		secret := strings.TrimSpace(c.FormValue("api_key"))
		if secret == "" {
			h := r.Header.Get(echo.HeaderAuthorization)
			if v, ok := strings.CutPrefix(h, "Bearer "); ok {
				secret = strings.TrimSpace(v)
			} else if v, ok := strings.CutPrefix(h, "bearer "); ok {
				secret = strings.TrimSpace(v)
			}
		}
		if secret == "" {
			return grids.ErrUnauthenticated
		}
		p, err := o.principal(r.Context(), secret)
		if err != nil {
			return err
		}
		c.Set(principalKey, p)
		return next(c)
	}
}

// parseOpen311Form reads a POST body: form-encoded, as the specification
// says, or multipart (some clients send that).
func parseOpen311Form(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if err != nil {
		mt = ""
	}
	var mbe *http.MaxBytesError
	switch mt {
	case echo.MIMEApplicationForm:
		err = r.ParseForm()
	case echo.MIMEMultipartForm:
		err = r.ParseMultipartForm(1 << 20)
	default:
		return bad("Content-Type", "send the request as application/x-www-form-urlencoded (got %q)", r.Header.Get(echo.HeaderContentType))
	}
	if errors.As(err, &mbe) {
		return mbe
	}
	if err != nil {
		return bad("body", "not a readable form: %v", err)
	}
	return nil
}

// Discovery.

type open311Endpoint struct {
	Specification string   `json:"specification" xml:"specification"`
	URL           string   `json:"url" xml:"url"`
	Changeset     string   `json:"changeset" xml:"changeset"`
	Type          string   `json:"type" xml:"type"`
	Formats       []string `json:"formats" xml:"formats>format"`
}

type open311Discovery struct {
	XMLName    xml.Name          `json:"-" xml:"discovery"`
	Changeset  string            `json:"changeset" xml:"changeset"`
	Contact    string            `json:"contact" xml:"contact"`
	KeyService string            `json:"key_service" xml:"key_service"`
	Endpoints  []open311Endpoint `json:"endpoints" xml:"endpoints>endpoint"`
}

func (o *open311API) discovery(c echo.Context) error {
	d := open311Discovery{
		Changeset:  open311Changeset,
		Contact:    "citygrid Open311 GeoReport v2 endpoint; reports become cases (案件) of the city's grid management.",
		KeyService: "An administrator issues the api_key: a citygrid token of a role that may file cases (POST /api/v1/tokens).",
		Endpoints: []open311Endpoint{{Specification: "http://wiki.open311.org/GeoReport_v2",
			URL: c.Scheme() + "://" + c.Request().Host + "/open311/v2", Changeset: open311Changeset, Type: "production",
			Formats: []string{"application/json", "text/xml"}}},
	}
	return o.write(c, http.StatusOK, d, d)
}

// Services.

type open311Service struct {
	Code        string  `json:"service_code" xml:"service_code"`
	Name        string  `json:"service_name" xml:"service_name"`
	Description string  `json:"description" xml:"description"`
	Metadata    bool    `json:"metadata" xml:"metadata"`
	Type        string  `json:"type" xml:"type"`
	Keywords    *string `json:"keywords" xml:"keywords,omitempty"`
	Group       string  `json:"group" xml:"group"`
}

type open311Services struct {
	XMLName  xml.Name         `xml:"services"`
	Services []open311Service `xml:"service"`
}

func (o *open311API) services(c echo.Context) error {
	list, err := o.cases.Services(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]open311Service, 0, len(list))
	for _, sv := range list {
		out = append(out, toService(sv))
	}
	return o.write(c, http.StatusOK, out, open311Services{Services: out})
}

func toService(sv cases.Service) open311Service {
	desc := sv.Name + " (" + sv.NameEn + ")"
	if n := limitNotice(sv.LimitHours, sv.LimitDays); n != "" {
		desc += "；" + n
	}
	out := open311Service{Code: sv.Code, Name: sv.Name, Description: desc, Metadata: len(open311Attributes()) > 0,
		Type: "realtime", Group: sv.Group}
	kind := "事件"
	if sv.Kind == "component" {
		kind = "部件"
	}
	kw := strings.Join(slices.DeleteFunc([]string{kind, sv.Group, sv.Theme, sv.NameEn}, func(s string) bool { return s == "" }), ",")
	out.Keywords = &kw
	return out
}

// limitNotice says a handling limit in words.
func limitNotice(hours, days *int) string {
	switch {
	case hours != nil:
		return fmt.Sprintf("处置时限 %d 小时", *hours)
	case days != nil:
		return fmt.Sprintf("处置时限 %d 个工作日", *days)
	}
	return ""
}

type open311Value struct {
	Key  string `json:"key" xml:"key"`
	Name string `json:"name" xml:"name"`
}

type open311Attribute struct {
	Variable            bool           `json:"variable" xml:"variable"`
	Code                string         `json:"code" xml:"code"`
	Datatype            string         `json:"datatype" xml:"datatype"`
	Required            bool           `json:"required" xml:"required"`
	DatatypeDescription string         `json:"datatype_description" xml:"datatype_description"`
	Order               int            `json:"order" xml:"order"`
	Description         string         `json:"description" xml:"description"`
	Values              []open311Value `json:"values,omitempty" xml:"values>value,omitempty"`
}

type open311Definition struct {
	XMLName    xml.Name           `json:"-" xml:"service_definition"`
	Code       string             `json:"service_code" xml:"service_code"`
	Attributes []open311Attribute `json:"attributes" xml:"attributes>attribute"`
}

// sourceNames are the sources as a citizen reads them.
var sourceNames = map[string]string{
	"citizen": "市民上报", "hotline": "12345 热线", "inspector": "网格员巡查", "secret_inspection": "暗访",
	"supervisor": "领导督办", "patrol": "巡查",
}

// open311Attributes are the attributes every service takes: where the
// report comes from, citizen unless a city system files it for another
// source (the hotline, say).
func open311Attributes() []open311Attribute {
	src := open311Attribute{Variable: true, Code: "source", Datatype: "singlevaluelist", Order: 1,
		DatatypeDescription: "one of the keys", Description: "来源 (source of the report); citizen when not given"}
	for _, s := range cases.Sources() {
		src.Values = append(src.Values, open311Value{Key: s, Name: sourceNames[s]})
	}
	return []open311Attribute{src}
}

func (o *open311API) serviceDefinition(c echo.Context) error {
	code, err := fileParam(c, "service")
	if err != nil {
		return err
	}
	if _, err := o.service(c.Request().Context(), code); err != nil {
		return err
	}
	d := open311Definition{Code: code, Attributes: open311Attributes()}
	return o.write(c, http.StatusOK, d, d)
}

// service finds a service by its code.
func (o *open311API) service(ctx context.Context, code string) (cases.Service, error) {
	list, err := o.cases.Services(ctx)
	if err != nil {
		return cases.Service{}, err
	}
	for _, sv := range list {
		if sv.Code == code {
			return sv, nil
		}
	}
	return cases.Service{}, &grids.NotFoundError{What: "service_code", Key: code, Hint: "see services.json"}
}

// Requests.

type open311Request struct {
	ID            string   `json:"service_request_id" xml:"service_request_id"`
	Status        string   `json:"status" xml:"status"`
	StatusNotes   *string  `json:"status_notes" xml:"status_notes"`
	ServiceName   string   `json:"service_name" xml:"service_name"`
	ServiceCode   string   `json:"service_code" xml:"service_code"`
	Description   *string  `json:"description" xml:"description"`
	Agency        *string  `json:"agency_responsible" xml:"agency_responsible"`
	ServiceNotice *string  `json:"service_notice" xml:"service_notice"`
	RequestedAt   string   `json:"requested_datetime" xml:"requested_datetime"`
	UpdatedAt     string   `json:"updated_datetime" xml:"updated_datetime"`
	ExpectedAt    *string  `json:"expected_datetime" xml:"expected_datetime"`
	Address       *string  `json:"address" xml:"address"`
	AddressID     *string  `json:"address_id" xml:"address_id"`
	Zipcode       *string  `json:"zipcode" xml:"zipcode"`
	Lat           float64  `json:"lat" xml:"lat"`
	Long          float64  `json:"long" xml:"long"`
	MediaURL      *string  `json:"media_url" xml:"media_url"`
	XMLName       xml.Name `json:"-" xml:"request"`
}

type open311Requests struct {
	XMLName  xml.Name         `xml:"service_requests"`
	Requests []open311Request `xml:"request"`
}

// open311Created is the answer to a new request.
type open311Created struct {
	XMLName       xml.Name `json:"-" xml:"request"`
	ID            string   `json:"service_request_id" xml:"service_request_id"`
	ServiceNotice *string  `json:"service_notice" xml:"service_notice"`
	AccountID     *string  `json:"account_id" xml:"account_id"`
}

type open311CreatedList struct {
	XMLName  xml.Name         `xml:"service_requests"`
	Requests []open311Created `xml:"request"`
}

// open311Status is the specification's status of a case: the final
// statuses are closed, every other is open.
func open311Status(st cases.Status) string {
	if st.Open() {
		return "open"
	}
	return "closed"
}

// statusesOf are the case statuses of an Open311 status.
func statusesOf(open bool) []cases.Status {
	var out []cases.Status
	for _, st := range cases.Statuses() {
		if st.Open() == open {
			out = append(out, st)
		}
	}
	return out
}

// open311Time is a W3C date-time in the city's time, as the case codes'
// dates are.
func (o *open311API) time(t time.Time) string { return t.In(o.cases.Location()).Format(time.RFC3339) }

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// toRequest is a case as Open311 shows it; personal data never appear.
func (o *open311API) toRequest(k cases.Case, x cases.Extra) open311Request {
	r := open311Request{ID: k.Code, Status: open311Status(k.Status), StatusNotes: optional(x.LastNote),
		ServiceName: k.CategoryName, ServiceCode: k.Category, Description: optional(k.Description),
		RequestedAt: o.time(k.ReportedAt), UpdatedAt: o.time(k.UpdatedAt),
		Lat: k.Point.Lat, Long: k.Point.Lon, MediaURL: optional(x.PhotoURL)}
	if k.Unit != nil {
		r.Agency = optional(k.Unit.Name)
	}
	r.ServiceNotice = optional(caseNotice(k))
	if k.Deadline != nil && k.Status.Open() {
		r.ExpectedAt = optional(o.time(*k.Deadline))
	}
	if k.Address != nil {
		r.Address = optional(*k.Address)
	} else {
		var parts []string
		for _, cn := range []*grids.CodeName{k.Regions.Community, k.Regions.Subdistrict, k.Regions.District} {
			if cn != nil && cn.Name != "" {
				parts = append(parts, cn.Name)
			}
		}
		r.Address = optional(strings.Join(parts, ", "))
	}
	if k.ObjectID != nil {
		r.AddressID = optional(strconv.FormatInt(*k.ObjectID, 10))
	}
	return r
}

// caseNotice says what will happen to a case: its handling limit, and
// that a dispatcher will confirm an uncertain place.
func caseNotice(k cases.Case) string {
	var parts []string
	if k.Limit != nil {
		var h, d *int
		if k.Limit.Hours > 0 {
			h = &k.Limit.Hours
		} else if k.Limit.WorkingDays > 0 {
			d = &k.Limit.WorkingDays
		}
		if n := limitNotice(h, d); n != "" {
			parts = append(parts, n+"（自派遣起）")
		}
	}
	if k.NeedsConfirmation && k.Status.Open() {
		parts = append(parts, "位置待指挥中心确认")
	}
	return strings.Join(parts, "；")
}

// answerRequests writes cases as a request list.
func (o *open311API) answerRequests(c echo.Context, list []cases.Case) error {
	extras, err := o.cases.Extras(c.Request().Context(), list)
	if err != nil {
		return err
	}
	out := make([]open311Request, 0, len(list))
	for _, k := range list {
		out = append(out, o.toRequest(k, extras[k.Code]))
	}
	return o.write(c, http.StatusOK, out, open311Requests{Requests: out})
}

// listRequests answers GET requests.json: by service_request_id (a comma
// list, which overrides the other filters), or by service_code, status and
// report time (start_date, end_date; 90 days at most, the last 90 days by
// default), newest first, at most 1000.
func (o *open311API) listRequests(c echo.Context) error {
	ctx, p := c.Request().Context(), principalOf(c)
	if ids := c.QueryParam("service_request_id"); ids != "" {
		var codes []string
		for _, id := range strings.Split(ids, ",") {
			if id = strings.TrimSpace(id); id != "" {
				codes = append(codes, id)
			}
		}
		if len(codes) > open311Max {
			return bad("service_request_id", "at most %d ids", open311Max)
		}
		list, err := o.cases.ByCodes(ctx, p, codes)
		if err != nil {
			return err
		}
		return o.answerRequests(c, list)
	}
	var f cases.Filter
	f.Category = c.QueryParam("service_code")
	if v := c.QueryParam("status"); v != "" {
		var open, closed bool
		for _, s := range strings.Split(v, ",") {
			switch strings.TrimSpace(s) {
			case "open":
				open = true
			case "closed":
				closed = true
			default:
				return bad("status", "%q is not a status (open or closed)", s)
			}
		}
		if open != closed {
			f.Status = statusesOf(open)
		}
	}
	from, err := open311Date(c, "start_date")
	if err != nil {
		return err
	}
	to, err := open311Date(c, "end_date")
	if err != nil {
		return err
	}
	switch {
	case from == nil && to == nil:
		start := time.Now().Add(-open311Window)
		from = &start
	case from == nil:
		start := to.Add(-open311Window)
		from = &start
	case to == nil:
		t := from.Add(open311Window)
		to = &t
	case to.Sub(*from) > open311Window:
		return bad("end_date", "start_date and end_date may not span more than 90 days")
	case !from.Before(*to):
		return bad("end_date", "must be after start_date")
	}
	f.From, f.To = from, to
	if to != nil {
		// end_date is inclusive in the specification; the filter's end is not.
		t := to.Add(time.Second)
		f.To = &t
	}
	page, err := o.cases.List(ctx, p, cases.ListQuery{Filter: f, Sort: cases.SortNewest, Limit: open311Max})
	if err != nil {
		return err
	}
	return o.answerRequests(c, page.Items)
}

// open311Date reads a W3C date-time (RFC 3339; a bare date counts from its
// start in UTC, as clients send both).
func open311Date(c echo.Context, name string) (*time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return &t, nil
		}
	}
	return nil, bad(name, "want a W3C date-time such as 2026-12-01T08:00:00+08:00")
}

// getRequest answers GET requests/{id}.json: a list of the one request.
func (o *open311API) getRequest(c echo.Context) error {
	code, err := fileParam(c, "service_request_id")
	if err != nil {
		return err
	}
	k, err := o.cases.Get(c.Request().Context(), principalOf(c), code)
	if err != nil {
		var nf *grids.NotFoundError
		if errors.As(err, &nf) {
			return &grids.NotFoundError{What: "service_request_id", Key: code}
		}
		return err
	}
	return o.answerRequests(c, []cases.Case{k})
}

// open311Params are the form fields of a new request, besides the
// attributes; email, device_id and account_id are accepted and not kept
// (a case keeps a reporter's name and phone only).
var open311Params = []string{"api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string", "address_id",
	"email", "device_id", "account_id", "first_name", "last_name", "phone", "description", "media_url"}

// createRequest answers POST requests.json: it files the request as a case
// of source citizen (or the source attribute) through the cases store, so
// intake, routing, duplicates and idempotency are those of the API.
func (o *open311API) createRequest(c echo.Context) error {
	r := c.Request()
	form := r.Form
	var pr grids.Problems
	in := cases.CreateInput{Source: "citizen"}
	for name := range form {
		if slices.Contains(open311Params, name) {
			continue
		}
		attr, ok := strings.CutPrefix(name, "attribute[")
		attr, ok2 := strings.CutSuffix(attr, "]")
		switch {
		case ok && ok2 && attr == "source":
			in.Source = strings.TrimSpace(form.Get(name))
		case ok && ok2:
			pr.Add(name, "%q is not an attribute of this service (see services/{service_code}.json)", attr)
		default:
			pr.Add(name, "unknown parameter %q", name)
		}
	}
	in.Category = strings.TrimSpace(form.Get("service_code"))
	if in.Category == "" {
		pr.Add("service_code", "required (see services.json)")
	}
	lat, long := strings.TrimSpace(form.Get("lat")), strings.TrimSpace(form.Get("long"))
	in.Address = strings.TrimSpace(form.Get("address_string"))
	addrID := strings.TrimSpace(form.Get("address_id"))
	switch {
	case lat != "" || long != "":
		y, errY := strconv.ParseFloat(lat, 64)
		x, errX := strconv.ParseFloat(long, 64)
		if errY != nil {
			pr.Add("lat", "want a WGS84 latitude in degrees, got %q", lat)
		}
		if errX != nil {
			pr.Add("long", "want a WGS84 longitude in degrees, got %q", long)
		}
		in.Lat, in.Lon = &y, &x
	case in.Address == "" && addrID == "":
		pr.Add("lat", "a location is required: lat and long, address_string or address_id")
	}
	if addrID != "" {
		id, err := strconv.ParseInt(addrID, 10, 64)
		if err != nil || id <= 0 {
			pr.Add("address_id", "want the id of a citygrid object (GET /api/v1/objects), got %q", addrID)
		} else {
			in.ObjectID = &id
		}
	}
	in.Description = form.Get("description")
	in.ReporterName = fullName(strings.TrimSpace(form.Get("first_name")), strings.TrimSpace(form.Get("last_name")))
	in.ReporterPhone = strings.TrimSpace(form.Get("phone"))
	if u := strings.TrimSpace(form.Get("media_url")); u != "" {
		in.PhotoURLs = []string{u}
	}
	if err := pr.Err(); err != nil {
		return err
	}
	ctx := r.Context()
	if _, err := o.service(ctx, in.Category); err != nil {
		return err
	}
	if in.Lon == nil && in.Address == "" && in.ObjectID != nil {
		// Only the object names the place: the report is at the object.
		lon, lat, err := o.cases.ObjectPoint(ctx, *in.ObjectID)
		if err != nil {
			return err
		}
		in.Lon, in.Lat = &lon, &lat
	}
	key := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	if len(key) > 200 {
		return bad("Idempotency-Key", "at most 200 characters")
	}
	k, replayed, err := o.cases.Create(ctx, principalOf(c), in, key, open311BodyHash(form))
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if replayed {
		c.Response().Header().Set("Idempotent-Replayed", "true")
		status = http.StatusOK
	}
	c.Response().Header().Set(echo.HeaderLocation, "/open311/v2/requests/"+k.Code+"."+open311Format(c))
	out := []open311Created{{ID: k.Code, ServiceNotice: optional(caseNotice(k))}}
	return o.write(c, status, out, open311CreatedList{Requests: out})
}

// open311BodyHash identifies a request's content for idempotent retries:
// the form's fields in a canonical order, the token aside (a retry may use
// a renewed one). The prefix keeps it apart from the JSON API's bodies.
func open311BodyHash(form url.Values) []byte {
	v := url.Values{}
	for name, vals := range form {
		if name != "api_key" {
			v[name] = vals
		}
	}
	sum := sha256.Sum256([]byte("open311\n" + v.Encode()))
	return sum[:]
}

// fullName joins a reporter's names: Chinese names run together
// (王 + 五 is 王五), others take a space.
func fullName(first, last string) string {
	if first == "" || last == "" {
		return first + last
	}
	han := func(s string) bool {
		return strings.ContainsFunc(s, func(r rune) bool { return unicode.Is(unicode.Han, r) })
	}
	if han(first) || han(last) {
		return first + last
	}
	return first + " " + last
}
