package cases

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"image/jpeg"
	"image/png"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	exif "github.com/dsoprea/go-exif/v3"
	exifcommon "github.com/dsoprea/go-exif/v3/common"
	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
)

// Photo stages: before (the report), after (handled, 整改后) and the
// inspector's check (verify).
const (
	StageReport  = "report"
	StageHandled = "handled"
	StageVerify  = "verify"
)

// Stages lists the photo stages.
func Stages() []string { return []string{StageReport, StageHandled, StageVerify} }

// MaxPhotos is the most photos (uploads and links together) one request
// carries.
const MaxPhotos = 10

// PhotoInput is one uploaded photo.
type PhotoInput struct {
	Part string // the form part that carried it, named in errors ("photo[2]")
	Name string // the client's file name, if any
	Data []byte
}

// Photo is a stored photo or a reported photo link.
type Photo struct {
	ID          int64   `json:"id"`
	Stage       string  `json:"stage"`
	ContentType *string `json:"content_type"`
	Size        *int    `json:"size"`
	SHA256      *string `json:"sha256,omitempty"`
	// URL is a link given at intake instead of the bytes.
	URL *string `json:"url,omitempty"`
	// Href is where the API serves the bytes; the API fills it.
	Href    string     `json:"href,omitempty"`
	TakenAt *time.Time `json:"taken_at"`
	ExifLon *float64   `json:"exif_lon"`
	ExifLat *float64   `json:"exif_lat"`
	// DistanceM is how far, on the spheroid, the photo's EXIF position
	// lies from the case's point: a dispatcher sees a photo taken
	// elsewhere.
	DistanceM  *float64  `json:"distance_m"`
	UploadedBy string    `json:"uploaded_by"`
	CreatedAt  time.Time `json:"created_at"`
	// Duplicate says the same bytes were already on the case: nothing new
	// was stored and this is the earlier photo.
	Duplicate bool `json:"duplicate,omitempty"`
}

// TooLargeError refuses a photo over the size limit (413).
type TooLargeError struct {
	Part  string // the form part, "photo[2]"
	Name  string // the client's file name, if any
	Limit int64
}

func (e *TooLargeError) Error() string {
	name := ""
	if e.Name != "" {
		name = fmt.Sprintf(" (%q)", e.Name)
	}
	return fmt.Sprintf("%s%s: over the limit of %d bytes a photo may have", e.Part, name, e.Limit)
}

// PhotoLimit is the most bytes one photo may have.
func (s *Store) PhotoLimit() int64 { return s.cfg.PhotoLimit }

// readyPhoto is a checked upload with what its bytes say.
type readyPhoto struct {
	PhotoInput
	contentType string
	sum         [32]byte
	takenAt     *time.Time
	lon, lat    *float64
}

// preparePhotos checks uploads before any transaction: count, size,
// content (sniffed, never the client's word) and EXIF.
func (s *Store) preparePhotos(in []PhotoInput, links int) ([]readyPhoto, error) {
	if len(in)+links > MaxPhotos {
		return nil, grids.Invalid("photo", "%d photos; at most %d per request", len(in)+links, MaxPhotos)
	}
	var pr grids.Problems
	out := make([]readyPhoto, 0, len(in))
	for i, p := range in {
		if p.Part == "" {
			p.Part = fmt.Sprintf("photo[%d]", i)
		}
		if int64(len(p.Data)) > s.cfg.PhotoLimit {
			return nil, &TooLargeError{Part: p.Part, Name: p.Name, Limit: s.cfg.PhotoLimit}
		}
		ct, err := sniffPhoto(p.Data)
		if err != nil {
			name := ""
			if p.Name != "" {
				name = fmt.Sprintf(" (%q)", p.Name)
			}
			pr.Add(p.Part, "%s%s", err, name)
			continue
		}
		r := readyPhoto{PhotoInput: p, contentType: ct, sum: sha256.Sum256(p.Data)}
		r.takenAt, r.lon, r.lat = readExif(exifPayload(ct, p.Data), s.cfg.Location)
		out = append(out, r)
	}
	return out, pr.Err()
}

// sniffPhoto tells the photo's type from its bytes: JPEG, PNG or WebP.
func sniffPhoto(b []byte) (string, error) {
	if len(b) == 0 {
		return "", fmt.Errorf("empty: not an image")
	}
	ct := http.DetectContentType(b)
	switch ct {
	case "image/jpeg":
		if _, err := jpeg.DecodeConfig(bytes.NewReader(b)); err != nil {
			return "", fmt.Errorf("starts like a JPEG but is not one (%v)", err)
		}
	case "image/png":
		if _, err := png.DecodeConfig(bytes.NewReader(b)); err != nil {
			return "", fmt.Errorf("starts like a PNG but is not one (%v)", err)
		}
	case "image/webp":
		// RIFF size, then a VP8, VP8L or VP8X chunk.
		if len(b) < 20 || !strings.HasPrefix(string(b[12:16]), "VP8") {
			return "", fmt.Errorf("starts like a WebP but is not one")
		}
	default:
		return "", fmt.Errorf("not a JPEG, PNG or WebP image (the bytes look like %s)", strings.Split(ct, ";")[0])
	}
	return ct, nil
}

// exifPayload finds the EXIF block (a TIFF structure) in a photo's
// container: a JPEG APP1 segment, a PNG eXIf chunk or a WebP EXIF chunk.
// Walking the container reads a few headers where a byte-wise search of
// the whole file (exif.SearchAndExtractExif) would scan every byte.
func exifPayload(ct string, b []byte) []byte {
	tiff := func(p []byte) []byte { return bytes.TrimPrefix(p, []byte("Exif\x00\x00")) }
	switch ct {
	case "image/jpeg":
		for i := 2; i+4 <= len(b) && b[i] == 0xFF; {
			marker, n := b[i+1], int(binary.BigEndian.Uint16(b[i+2:]))
			if marker == 0xDA || marker == 0xD9 || i+2+n > len(b) { // image data: no more metadata
				return nil
			}
			seg := b[i+4 : i+2+n]
			if marker == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
				return tiff(seg)
			}
			i += 2 + n
		}
	case "image/png":
		for i := 8; i+12 <= len(b); {
			n := int(binary.BigEndian.Uint32(b[i:]))
			if n < 0 || i+12+n > len(b) {
				return nil
			}
			if string(b[i+4:i+8]) == "eXIf" {
				return b[i+8 : i+8+n]
			}
			i += 12 + n
		}
	case "image/webp":
		for i := 12; i+8 <= len(b); {
			n := int(binary.LittleEndian.Uint32(b[i+4:]))
			if n < 0 || i+8+n > len(b) {
				return nil
			}
			if string(b[i:i+4]) == "EXIF" {
				return tiff(b[i+8 : i+8+n])
			}
			i += 8 + n + n%2 // chunks are padded to even sizes
		}
	}
	return nil
}

// readExif reads the GPS position and the time the photo was taken from
// an EXIF block; what is missing or unreadable stays nil, as a photo
// without EXIF is still a photo. A time without an offset
// (OffsetTimeOriginal) is local time in the city.
func readExif(raw []byte, loc *time.Location) (taken *time.Time, lon, lat *float64) {
	if len(raw) < 8 {
		return nil, nil, nil
	}
	im, err := exifcommon.NewIfdMappingWithStandard()
	if err != nil {
		return nil, nil, nil
	}
	_, index, err := exif.Collect(im, exif.NewTagIndex(), raw)
	if err != nil {
		return nil, nil, nil
	}
	if g := index.Lookup[exifcommon.IfdGpsInfoStandardIfdIdentity.String()]; g != nil {
		if gi, err := g.GpsInfo(); err == nil {
			la, lo := gi.Latitude.Decimal(), gi.Longitude.Decimal()
			// 0,0 is what many cameras write without a fix.
			if !math.IsNaN(la) && !math.IsNaN(lo) && math.Abs(la) <= 90 && math.Abs(lo) <= 180 && (la != 0 || lo != 0) {
				lat, lon = &la, &lo
			}
		}
	}
	if e := index.Lookup[exifcommon.IfdExifStandardIfdIdentity.String()]; e != nil {
		when := exifString(e, "DateTimeOriginal")
		if when != "" {
			zone := loc
			if off := exifString(e, "OffsetTimeOriginal"); off != "" {
				if t, err := time.Parse("-07:00", off); err == nil {
					_, secs := t.Zone()
					zone = time.FixedZone(off, secs)
				}
			}
			if t, err := time.ParseInLocation("2006:01:02 15:04:05", when, zone); err == nil {
				taken = &t
			}
		}
	}
	return taken, lon, lat
}

func exifString(ifd *exif.Ifd, name string) string {
	tags, err := ifd.FindTagWithName(name)
	if err != nil || len(tags) == 0 {
		return ""
	}
	v, err := tags[0].Value()
	if err != nil {
		return ""
	}
	s, _ := v.(string)
	return strings.TrimRight(strings.TrimSpace(s), "\x00")
}

// photoRule says who may add photos at a stage and in which statuses.
// A unit adds its after photos until the case is verified; an inspector
// adds the check's photos while verifying, or after a failed check.
func photoRule(p grids.Principal, c *Case, stage string) error {
	var roles []grids.Role
	var ok bool
	switch stage {
	case StageReport:
		roles, ok = []grids.Role{grids.RoleDispatcher, grids.RoleInspector, grids.RoleUnit}, c.Status.Open()
	case StageHandled:
		roles, ok = []grids.Role{grids.RoleUnit}, slices.Contains([]Status{Dispatched, Handling, Handled}, c.Status)
	case StageVerify:
		roles = []grids.Role{grids.RoleDispatcher, grids.RoleInspector}
		ok = c.Status == Handled || c.Status == Verified || (c.Status == Handling && c.Reworks > 0)
	default:
		return grids.Invalid("stage", "%q is not a photo stage (one of %s)", stage, strings.Join(Stages(), ", "))
	}
	if p.Role != grids.RoleAdmin && !slices.Contains(roles, p.Role) {
		return fmt.Errorf("%w: %s may not add %s photos", grids.ErrForbidden, p.Role, stage)
	}
	if !ok {
		return &grids.ConflictError{Field: "stage", Message: fmt.Sprintf("case %s is %s: it takes no %s photos now", c.Code, c.Status, stage)}
	}
	return nil
}

// AddPhotos stores photos of a case at a stage, with an event in the
// case's history, in one transaction. The same bytes twice on a case are
// stored once: the answer names the earlier photo.
func (s *Store) AddPhotos(ctx context.Context, p grids.Principal, code, stage string, in []PhotoInput) ([]Photo, error) {
	if len(in) == 0 {
		return nil, grids.Invalid("photo", "required: one or more photo parts")
	}
	if !slices.Contains(Stages(), stage) {
		return nil, grids.Invalid("stage", "%q is not a photo stage (one of %s)", stage, strings.Join(Stages(), ", "))
	}
	ready, err := s.preparePhotos(in, 0)
	if err != nil {
		return nil, err
	}
	var out []Photo
	err = s.core.Tx(ctx, func(tx pgx.Tx) error {
		c, err := s.get(ctx, tx, p, code, true)
		if err != nil {
			return err
		}
		if err := photoRule(p, &c, stage); err != nil {
			return err
		}
		if out, err = s.insertPhotos(ctx, tx, p, &c, stage, ready); err != nil {
			return err
		}
		var added []int64
		for _, ph := range out {
			if !ph.Duplicate {
				added = append(added, ph.ID)
			}
		}
		if len(added) == 0 {
			return nil // nothing new: no history
		}
		from := c.Status
		return writeEvent(ctx, tx, &c, p, "photos", &from, "", map[string]any{"stage": stage, "photos": added}, time.Now())
	})
	return out, err
}

func photoIDs(ps []Photo) []int64 {
	ids := make([]int64, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids
}

// insertPhotos writes checked uploads of a case in the caller's
// transaction and answers them as stored.
func (s *Store) insertPhotos(ctx context.Context, tx pgx.Tx, p grids.Principal, c *Case, stage string, ready []readyPhoto) ([]Photo, error) {
	ids := make([]int64, 0, len(ready))
	dup := map[int64]bool{}
	for _, r := range ready {
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO case_photos (case_id, case_code, stage, content_type, size_bytes, sha256, data,
				taken_at, exif_lon, exif_lat, uploaded_by)
			VALUES (@case, @code, @stage, @ct, @size, @sum, @data, @taken, @lon, @lat, @by)
			ON CONFLICT (case_id, sha256) WHERE data IS NOT NULL DO NOTHING
			RETURNING id`,
			pgx.NamedArgs{"case": c.id, "code": c.Code, "stage": stage, "ct": r.contentType, "size": len(r.Data),
				"sum": r.sum[:], "data": r.Data, "taken": r.takenAt, "lon": r.lon, "lat": r.lat, "by": p.User}).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			if err = tx.QueryRow(ctx, `SELECT id FROM case_photos WHERE case_id = $1 AND sha256 = $2 AND data IS NOT NULL`,
				c.id, r.sum[:]).Scan(&id); err != nil {
				return nil, err
			}
			dup[id] = true
		} else if err != nil {
			return nil, err
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	out, err := s.photos(ctx, tx, c, "AND p.id = ANY(@ids)", pgx.NamedArgs{"ids": ids})
	for i := range out {
		out[i].Duplicate = dup[out[i].ID]
	}
	return out, err
}

// photos reads a case's photos with their distance from the case's point.
func (s *Store) photos(ctx context.Context, q grids.Querier, c *Case, and string, args pgx.NamedArgs) ([]Photo, error) {
	args["case"], args["lon"], args["lat"] = c.id, c.Point.Lon, c.Point.Lat
	rows, err := q.Query(ctx, `SELECT p.id, p.stage, p.content_type, p.size_bytes, encode(p.sha256, 'hex'), p.url,
			p.taken_at, p.exif_lon, p.exif_lat,
			round(ST_Distance(ST_SetSRID(ST_Point(p.exif_lon, p.exif_lat), 4326)::geography,
				ST_SetSRID(ST_Point(@lon, @lat), 4326)::geography)::numeric, 1)::float8,
			p.uploaded_by, p.created_at
		FROM case_photos p WHERE p.case_id = @case `+and+` ORDER BY p.id`, args)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Photo, error) {
		var ph Photo
		err := r.Scan(&ph.ID, &ph.Stage, &ph.ContentType, &ph.Size, &ph.SHA256, &ph.URL, &ph.TakenAt, &ph.ExifLon, &ph.ExifLat,
			&ph.DistanceM, &ph.UploadedBy, &ph.CreatedAt)
		return ph, err
	})
}

// Photos lists a case's photos, oldest first, to a principal who may see
// the case.
func (s *Store) Photos(ctx context.Context, p grids.Principal, code string) ([]Photo, error) {
	c, err := s.get(ctx, s.pool, p, code, false)
	if err != nil {
		return nil, err
	}
	return s.photos(ctx, s.pool, &c, "", pgx.NamedArgs{})
}

// PhotoData answers a stored photo's bytes to a principal who may see
// the case; a link has no bytes here.
func (s *Store) PhotoData(ctx context.Context, p grids.Principal, code string, id int64) (Photo, []byte, error) {
	c, err := s.get(ctx, s.pool, p, code, false)
	if err != nil {
		return Photo{}, nil, err
	}
	ps, err := s.photos(ctx, s.pool, &c, "AND p.id = @id", pgx.NamedArgs{"id": id})
	if err != nil {
		return Photo{}, nil, err
	}
	key := fmt.Sprintf("%s/%d", code, id)
	if len(ps) == 0 {
		return Photo{}, nil, &grids.NotFoundError{What: "photo", Key: key}
	}
	if ps[0].URL != nil {
		return Photo{}, nil, &grids.NotFoundError{What: "photo", Key: key, Hint: "it is a link the reporter gave: " + *ps[0].URL}
	}
	var data []byte
	if err := s.pool.QueryRow(ctx, `SELECT data FROM case_photos WHERE id = $1`, id).Scan(&data); err != nil {
		return Photo{}, nil, err
	}
	return ps[0], data, nil
}
