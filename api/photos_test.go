package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"

	exif "github.com/dsoprea/go-exif/v3"
	exifcommon "github.com/dsoprea/go-exif/v3/common"
)

// photoJSON is a photo as the API answers it.
type photoJSON struct {
	ID          int64      `json:"id"`
	Stage       string     `json:"stage"`
	ContentType *string    `json:"content_type"`
	Size        *int       `json:"size"`
	SHA256      *string    `json:"sha256"`
	URL         *string    `json:"url"`
	Href        string     `json:"href"`
	TakenAt     *time.Time `json:"taken_at"`
	ExifLon     *float64   `json:"exif_lon"`
	ExifLat     *float64   `json:"exif_lat"`
	DistanceM   *float64   `json:"distance_m"`
	Duplicate   bool       `json:"duplicate"`
}

// a real 1×1 lossless WebP (RIFF, WEBP, a VP8L chunk).
const webp1x1 = "UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA=="

func shade(v uint8) image.Image {
	img := image.NewGray(image.Rect(0, 0, 24, 16))
	for i := range img.Pix {
		img.Pix[i] = v + uint8(i%13)
	}
	return img
}

func pngPhoto(t *testing.T, v uint8) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, shade(v)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// jpegPhoto is a real JPEG; with a position, it carries an APP1 EXIF
// segment (written with go-exif) with GPS and DateTimeOriginal, as a
// phone's camera writes it.
func jpegPhoto(t *testing.T, v uint8, lon, lat float64, when string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, shade(v), nil); err != nil {
		t.Fatal(err)
	}
	if lon == 0 && lat == 0 {
		return b.Bytes()
	}
	im, err := exifcommon.NewIfdMappingWithStandard()
	if err != nil {
		t.Fatal(err)
	}
	root := exif.NewIfdBuilder(im, exif.NewTagIndex(), exifcommon.IfdStandardIfdIdentity, exifcommon.EncodeDefaultByteOrder)
	gps, err := exif.GetOrCreateIbFromRootIb(root, "IFD/GPSInfo")
	if err != nil {
		t.Fatal(err)
	}
	dms := func(v float64) []exifcommon.Rational {
		d := math.Floor(v)
		m := math.Floor((v - d) * 60)
		s := ((v-d)*60 - m) * 60
		return []exifcommon.Rational{{Numerator: uint32(d), Denominator: 1}, {Numerator: uint32(m), Denominator: 1},
			{Numerator: uint32(math.Round(s * 10000)), Denominator: 10000}}
	}
	for name, v := range map[string]any{"GPSVersionID": []uint8{2, 2, 0, 0}, "GPSLatitudeRef": "N", "GPSLatitude": dms(lat),
		"GPSLongitudeRef": "E", "GPSLongitude": dms(lon)} {
		if err := gps.AddStandardWithName(name, v); err != nil {
			t.Fatal(err)
		}
	}
	ex, err := exif.GetOrCreateIbFromRootIb(root, "IFD/Exif")
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.AddStandardWithName("DateTimeOriginal", when); err != nil {
		t.Fatal(err)
	}
	tiff, err := exif.NewIfdByteEncoder().EncodeToExif(root)
	if err != nil {
		t.Fatal(err)
	}
	seg := append([]byte("Exif\x00\x00"), tiff...)
	out := []byte{0xFF, 0xD8, 0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(out[4:], uint16(len(seg)+2))
	return append(append(out, seg...), b.Bytes()[2:]...)
}

// form builds a multipart body of text fields and photo parts.
func form(t *testing.T, fields map[string]string, photos ...[]byte) (*bytes.Buffer, string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range photos {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="photo"; filename="p`+string(rune('a'+i))+`.jpg"`)
		h.Set("Content-Type", "image/jpeg") // what clients claim; the server sniffs
		pw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pw.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return &b, w.FormDataContentType()
}

func (e *env) multipart(path, token string, fields map[string]string, photos ...[]byte) response {
	e.t.Helper()
	body, ct := form(e.t, fields, photos...)
	req, err := http.NewRequest("POST", e.url+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", ct)
	return e.send(req)
}

func decodePhotos(t *testing.T, r response) []photoJSON {
	t.Helper()
	var out struct{ Photos []photoJSON }
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("not photos: %v\n%s", err, r.body)
	}
	return out.Photos
}

// haversine is the distance on a sphere of the mean radius: within 0.5%
// of the geodesic, enough to check the answer's distance.
func haversine(lon1, lat1, lon2, lat2 float64) float64 {
	r := math.Pi / 180
	a := math.Pow(math.Sin((lat2-lat1)*r/2), 2) + math.Cos(lat1*r)*math.Cos(lat2*r)*math.Pow(math.Sin((lon2-lon1)*r/2), 2)
	return 2 * 6371008.8 * math.Asin(math.Sqrt(a))
}

func casePhotoCount(t *testing.T, e *env, code string) int {
	t.Helper()
	var n int
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM case_photos WHERE case_code = $1`, code).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Photos before and after (整改前后) on the Beijing demo: intake with
// photos in one transaction, EXIF position, time and distance, stored
// once per case, served only to who may see the case, the unit's after
// photos with handled, and every refusal.
func TestCasePhotosBeijing(t *testing.T) {
	e := beijingEnv(t)
	dispatcher, inspector, analyst := e.token("dispatcher", ""), e.token("inspector", ""), e.token("analyst", "")
	jj, cg := e.token("unit", "JJ"), e.token("unit", "CG")

	// Intake with two photos: a JPEG taken about 85 m east of the report
	// (EXIF GPS, local time without offset) and a PNG without EXIF.
	exLon, exLat := zgcLon+0.001, zgcLat
	before := jpegPhoto(t, 10, exLon, exLat, "2026:11:30 09:15:00")
	plan := pngPhoto(t, 90)
	report, _ := json.Marshal(map[string]any{"lon": zgcLon, "lat": zgcLat, "category": "E0504", "source": "inspector",
		"description": "人行道停车"})
	r := e.multipart("/api/v1/cases", inspector, map[string]string{"case": string(report)}, before, plan)
	if r.status != http.StatusCreated {
		t.Fatalf("multipart intake: %d %s", r.status, r.body)
	}
	kase := decodeCase(t, r)
	got := decodePhotos(t, r)
	if len(got) != 2 || got[0].Stage != "report" || *got[0].ContentType != "image/jpeg" || *got[1].ContentType != "image/png" {
		t.Fatalf("intake photos %+v", got)
	}
	j := got[0]
	if j.ExifLon == nil || math.Abs(*j.ExifLon-exLon) > 1e-6 || math.Abs(*j.ExifLat-exLat) > 1e-6 {
		t.Errorf("EXIF position %v %v, want %v %v", j.ExifLon, j.ExifLat, exLon, exLat)
	}
	if want := haversine(zgcLon, zgcLat, exLon, exLat); j.DistanceM == nil || math.Abs(*j.DistanceM-want) > want*0.005 {
		t.Errorf("distance %v, want about %.1f m", j.DistanceM, want)
	}
	if want := time.Date(2026, 11, 30, 1, 15, 0, 0, time.UTC); j.TakenAt == nil || !j.TakenAt.Equal(want) {
		t.Errorf("taken_at %v, want %v (09:15 in Beijing)", j.TakenAt, want)
	}
	sum := sha256.Sum256(before)
	if *j.Size != len(before) || *j.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("size %d sha %s", *j.Size, *j.SHA256)
	}
	if p := got[1]; p.ExifLon != nil || p.DistanceM != nil || p.TakenAt != nil {
		t.Errorf("a PNG without EXIF answers %+v", p)
	}

	// The bytes come back as uploaded, with their type and an ETag.
	b := e.do("GET", j.Href, dispatcher, nil)
	if b.status != 200 || !bytes.Equal(b.body, before) || b.header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("photo bytes %s: %d %s, %d bytes %.200s", j.Href, b.status, b.header.Get("Content-Type"), len(b.body), b.body)
	}
	if b.header.Get("ETag") != `"`+*j.SHA256+`"` || !strings.Contains(b.header.Get("Cache-Control"), "private") {
		t.Errorf("ETag %q, Cache-Control %q", b.header.Get("ETag"), b.header.Get("Cache-Control"))
	}
	req, _ := http.NewRequest("GET", e.url+j.Href, nil)
	req.Header.Set("Authorization", "Bearer "+analyst)
	req.Header.Set("If-None-Match", b.header.Get("ETag"))
	if nm := e.send(req); nm.status != http.StatusNotModified || len(nm.body) != 0 {
		t.Errorf("If-None-Match: %d", nm.status)
	}

	// The same JPEG again is stored once; a WebP joins it.
	web, _ := base64.StdEncoding.DecodeString(webp1x1)
	photos := "/api/v1/cases/" + kase.Code + "/photos"
	r = e.multipart(photos, dispatcher, map[string]string{"stage": "report"}, before, web)
	if r.status != http.StatusCreated {
		t.Fatalf("add photos: %d %s", r.status, r.body)
	}
	got = decodePhotos(t, r)
	if len(got) != 2 || !got[0].Duplicate || got[0].ID != j.ID || got[1].Duplicate || *got[1].ContentType != "image/webp" {
		t.Errorf("the same photo again: %+v", got)
	}
	if r := e.multipart(photos, dispatcher, map[string]string{"stage": "report"}, before); r.status != 200 || !decodePhotos(t, r)[0].Duplicate {
		t.Errorf("only a repeated photo: %d %s", r.status, r.body)
	}
	if n := casePhotoCount(t, e, kase.Code); n != 3 {
		t.Errorf("%d photos stored, want 3", n)
	}
	if l := decodePhotos(t, e.do("GET", photos, analyst, nil)); len(l) != 3 || l[2].Href == "" {
		t.Errorf("list: %+v", l)
	}

	// Refusals, none of which stores anything.
	big := append(jpegPhoto(t, 1, 0, 0, ""), make([]byte, 10<<20)...)
	for _, c := range []struct {
		name, token, path string
		fields            map[string]string
		photos            [][]byte
		status            int
		field             string
	}{
		{"not an image", dispatcher, photos, map[string]string{"stage": "report"}, [][]byte{pngPhoto(t, 3), []byte("%PDF-1.7 not a photo")}, 422, "photo[1]"},
		{"too large", dispatcher, photos, map[string]string{"stage": "report"}, [][]byte{pngPhoto(t, 4), big}, 413, "photo[1]"},
		{"unknown stage", dispatcher, photos, map[string]string{"stage": "after"}, [][]byte{pngPhoto(t, 5)}, 422, "stage"},
		{"no stage", dispatcher, photos, nil, [][]byte{pngPhoto(t, 5)}, 422, "stage"},
		{"no photo", dispatcher, photos, map[string]string{"stage": "report"}, nil, 422, "photo"},
		{"eleven photos", dispatcher, photos, map[string]string{"stage": "report"}, make([][]byte, 11), 422, "photo"},
		{"an analyst", analyst, photos, map[string]string{"stage": "report"}, [][]byte{pngPhoto(t, 6)}, 403, ""},
		{"handled by a dispatcher", dispatcher, photos, map[string]string{"stage": "handled"}, [][]byte{pngPhoto(t, 6)}, 403, ""},
		{"verify before handled", inspector, photos, map[string]string{"stage": "verify"}, [][]byte{pngPhoto(t, 6)}, 409, "stage"},
		{"a unit before dispatch", jj, photos, map[string]string{"stage": "handled"}, [][]byte{pngPhoto(t, 6)}, 404, ""},
		{"unknown case", dispatcher, "/api/v1/cases/110108-20261201-99999/photos", map[string]string{"stage": "report"}, [][]byte{pngPhoto(t, 6)}, 404, ""},
		{"intake with a non-image", inspector, "/api/v1/cases", map[string]string{"case": string(report)}, [][]byte{before, []byte("hello")}, 422, "photo[1]"},
		{"intake without its case part", inspector, "/api/v1/cases", nil, [][]byte{before}, 422, "case"},
	} {
		cases0 := e.count("cases")
		r := e.multipart(c.path, c.token, c.fields, c.photos...)
		if r.status != c.status {
			t.Errorf("%s: %d, want %d: %s", c.name, r.status, c.status, r.body)
			continue
		}
		if c.field != "" {
			if _, f := r.errField(t); f != c.field {
				t.Errorf("%s: error names %q, want %q", c.name, f, c.field)
			}
		}
		if n := e.count("cases"); n != cases0 {
			t.Errorf("%s: made a case", c.name)
		}
	}
	if n := casePhotoCount(t, e, kase.Code); n != 3 {
		t.Errorf("refusals stored photos: %d, want 3", n)
	}
	if r := e.do("POST", photos, dispatcher, map[string]any{"stage": "report"}); r.status != 400 {
		t.Errorf("JSON to the photo upload: %d %s", r.status, r.body)
	}

	// A unit sees the photos only once the case is dispatched to it.
	if r := e.do("GET", photos, jj, nil); r.status != 404 {
		t.Errorf("undispatched photos to JJ: %d", r.status)
	}
	if r := e.do("GET", j.Href, jj, nil); r.status != 404 {
		t.Errorf("undispatched photo bytes to JJ: %d", r.status)
	}
	e.act(dispatcher, kase.Code, "register", nil)
	e.act(dispatcher, kase.Code, "dispatch", nil)
	if l := decodePhotos(t, e.do("GET", photos, jj, nil)); len(l) != 3 {
		t.Errorf("JJ sees %d photos, want 3", len(l))
	}
	if r := e.do("GET", j.Href, cg, nil); r.status != 404 {
		t.Errorf("CG reads JJ's case photo: %d", r.status)
	}

	// handled with the after photo, in the transition's transaction.
	after := jpegPhoto(t, 200, zgcLon, zgcLat+0.0001, "2026:12:01 10:00:00")
	if r := e.multipart("/api/v1/cases/"+kase.Code+"/handle", jj, map[string]string{"note": "去了"}, after); r.status != 422 {
		t.Errorf("photos with handle: %d %s", r.status, r.body)
	}
	r = e.multipart("/api/v1/cases/"+kase.Code+"/handled", jj, map[string]string{"note": "已拖走"}, after, []byte("nope"))
	if r.status != 422 || decodeCase(t, e.do("GET", "/api/v1/cases/"+kase.Code, dispatcher, nil)).Status != "dispatched" {
		t.Errorf("handled with a non-image: %d %s", r.status, r.body)
	}
	r = e.multipart("/api/v1/cases/"+kase.Code+"/handled", jj, map[string]string{"note": "已拖走"}, after)
	if r.status != 200 || decodeCase(t, r).Status != "handled" {
		t.Fatalf("handled with a photo: %d %s", r.status, r.body)
	}
	hp := decodePhotos(t, r)
	if len(hp) != 1 || hp[0].Stage != "handled" || hp[0].DistanceM == nil || *hp[0].DistanceM < 9 || *hp[0].DistanceM > 13 {
		t.Errorf("after photo %+v", hp)
	}
	var data string
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT data->>'photos' FROM case_events e JOIN cases c ON c.id = e.case_id
		WHERE c.code = $1 AND e.action = 'handled'`, kase.Code).Scan(&data); err != nil || data != "["+itoa(hp[0].ID)+"]" {
		t.Errorf("handled event photos %q, %v", data, err)
	}
	if r := e.multipart(photos, jj, map[string]string{"stage": "verify"}, pngPhoto(t, 7)); r.status != 403 {
		t.Errorf("a unit adds verify photos: %d", r.status)
	}
	if r := e.multipart(photos, jj, map[string]string{"stage": "handled"}, pngPhoto(t, 8)); r.status != 201 {
		t.Errorf("one more after photo: %d %s", r.status, r.body)
	}
	// The inspector verifies with a photo (fails: rework), and may add
	// more while the unit works again.
	r = e.multipart("/api/v1/cases/"+kase.Code+"/verify", inspector, map[string]string{"passed": "false", "note": "还有一辆"}, pngPhoto(t, 9))
	if r.status != 200 || decodeCase(t, r).Status != "handling" || decodePhotos(t, r)[0].Stage != "verify" {
		t.Errorf("verify with a photo: %d %s", r.status, r.body)
	}
	if r := e.multipart(photos, inspector, map[string]string{"stage": "verify"}, pngPhoto(t, 11)); r.status != 201 {
		t.Errorf("verify photo after a failed check: %d %s", r.status, r.body)
	}
	if n := casePhotoCount(t, e, kase.Code); n != 7 {
		t.Errorf("%d photos, want 7", n)
	}
	if ev := e.events(kase.Code); len(ev) < 2 || ev[1] != "photos:reported" {
		t.Errorf("history %v: the added photos are not in it", ev)
	}

	// Links given with the JSON intake are listed, and have no bytes here.
	link := e.file(inspector, map[string]any{"lon": zgcLon, "lat": zgcLat, "category": "C0118", "source": "citizen",
		"photo_urls": []string{"https://example.org/lamp.jpg"}})
	l := decodePhotos(t, e.do("GET", "/api/v1/cases/"+link.Code+"/photos", dispatcher, nil))
	if len(l) != 1 || l[0].URL == nil || *l[0].URL != "https://example.org/lamp.jpg" || l[0].Href != "" {
		t.Fatalf("photo links: %+v", l)
	}
	if r := e.do("GET", "/api/v1/cases/"+link.Code+"/photos/"+itoa(l[0].ID), dispatcher, nil); r.status != 404 {
		t.Errorf("a link's bytes: %d", r.status)
	}
	if r := e.do("GET", "/api/v1/cases/"+link.Code+"/photos/"+itoa(j.ID), dispatcher, nil); r.status != 404 {
		t.Errorf("another case's photo through this case: %d", r.status)
	}

	// A multipart retry with the same key is the same case; other photos
	// with the key are another request.
	send := func(p []byte) response {
		body, ct := form(t, map[string]string{"case": string(report)}, p)
		req, _ := http.NewRequest("POST", e.url+"/api/v1/cases", body)
		req.Header.Set("Authorization", "Bearer "+inspector)
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Idempotency-Key", "photo-call-1")
		return e.send(req)
	}
	first, again := send(plan), send(plan)
	if first.status != 201 || again.status != 200 || decodeCase(t, first).Code != decodeCase(t, again).Code {
		t.Errorf("multipart retry: %d / %d %s", first.status, again.status, again.body)
	}
	if r := send(web); r.status != 422 {
		t.Errorf("same key, other photo: %d %s", r.status, r.body)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
