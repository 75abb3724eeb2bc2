package cases

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"testing"
	"time"

	exif "github.com/dsoprea/go-exif/v3"
	exifcommon "github.com/dsoprea/go-exif/v3/common"
)

// tinyWebP is a real 1×1 lossless WebP (RIFF, WEBP, a VP8L chunk).
const tinyWebP = "UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA=="

// gpsExif builds an EXIF block (TIFF) with a GPS position and, when
// given, DateTimeOriginal and OffsetTimeOriginal, with go-exif's writer.
func gpsExif(t *testing.T, lat, lon float64, when, offset string) []byte {
	t.Helper()
	im, err := exifcommon.NewIfdMappingWithStandard()
	if err != nil {
		t.Fatal(err)
	}
	ti := exif.NewTagIndex()
	root := exif.NewIfdBuilder(im, ti, exifcommon.IfdStandardIfdIdentity, exifcommon.EncodeDefaultByteOrder)
	gps, err := exif.GetOrCreateIbFromRootIb(root, "IFD/GPSInfo")
	if err != nil {
		t.Fatal(err)
	}
	dms := func(v float64) []exifcommon.Rational {
		v = math.Abs(v)
		d := math.Floor(v)
		m := math.Floor((v - d) * 60)
		s := ((v-d)*60 - m) * 60
		return []exifcommon.Rational{{Numerator: uint32(d), Denominator: 1}, {Numerator: uint32(m), Denominator: 1},
			{Numerator: uint32(math.Round(s * 10000)), Denominator: 10000}}
	}
	ns, ew := "N", "E"
	if lat < 0 {
		ns = "S"
	}
	if lon < 0 {
		ew = "W"
	}
	for _, tag := range []struct {
		name string
		v    any
	}{{"GPSVersionID", []uint8{2, 2, 0, 0}}, {"GPSLatitudeRef", ns}, {"GPSLatitude", dms(lat)},
		{"GPSLongitudeRef", ew}, {"GPSLongitude", dms(lon)}} {
		if err := gps.AddStandardWithName(tag.name, tag.v); err != nil {
			t.Fatalf("%s: %v", tag.name, err)
		}
	}
	if when != "" {
		ex, err := exif.GetOrCreateIbFromRootIb(root, "IFD/Exif")
		if err != nil {
			t.Fatal(err)
		}
		if err := ex.AddStandardWithName("DateTimeOriginal", when); err != nil {
			t.Fatal(err)
		}
		if offset != "" {
			if err := ex.AddStandardWithName("OffsetTimeOriginal", offset); err != nil {
				t.Fatal(err)
			}
		}
	}
	raw, err := exif.NewIfdByteEncoder().EncodeToExif(root)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func testImage() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	img.Set(3, 3, color.RGBA{255, 0, 0, 255})
	return img
}

// withJPEGExif puts an APP1 EXIF segment right after a JPEG's SOI.
func withJPEGExif(t *testing.T, tiff []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(), nil); err != nil {
		t.Fatal(err)
	}
	j := b.Bytes()
	seg := append([]byte("Exif\x00\x00"), tiff...)
	out := []byte{0xFF, 0xD8, 0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(out[4:], uint16(len(seg)+2))
	out = append(out, seg...)
	return append(out, j[2:]...)
}

// withPNGExif puts an eXIf chunk after a PNG's IHDR.
func withPNGExif(t *testing.T, tiff []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, testImage()); err != nil {
		t.Fatal(err)
	}
	p := b.Bytes()
	ihdrEnd := 8 + 12 + int(binary.BigEndian.Uint32(p[8:]))
	chunk := make([]byte, 8, 12+len(tiff))
	binary.BigEndian.PutUint32(chunk, uint32(len(tiff)))
	copy(chunk[4:], "eXIf")
	chunk = append(chunk, tiff...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	return append(append(append([]byte{}, p[:ihdrEnd]...), chunk...), p[ihdrEnd:]...)
}

// withWebPExif appends an EXIF chunk (odd-sized, so padded) to a WebP,
// where writers put it: after the image data.
func withWebPExif(t *testing.T, tiff []byte) []byte {
	t.Helper()
	w, _ := base64.StdEncoding.DecodeString(tinyWebP)
	w = append(w, []byte("XTRA\x03\x00\x00\x00abc\x00")...) // a chunk to skip, padded
	c := append([]byte("EXIF\x00\x00\x00\x00"), tiff...)
	binary.LittleEndian.PutUint32(c[4:], uint32(len(tiff)))
	if len(tiff)%2 == 1 {
		c = append(c, 0)
	}
	w = append(w, c...)
	binary.LittleEndian.PutUint32(w[4:], uint32(len(w)-8))
	return w
}

func TestSniffPhoto(t *testing.T) {
	var j, p bytes.Buffer
	if err := jpeg.Encode(&j, testImage(), nil); err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(&p, testImage()); err != nil {
		t.Fatal(err)
	}
	w, _ := base64.StdEncoding.DecodeString(tinyWebP)
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"jpeg", j.Bytes(), "image/jpeg"},
		{"png", p.Bytes(), "image/png"},
		{"webp", w, "image/webp"},
		{"text", []byte("这不是照片"), ""},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), ""},
		{"truncated jpeg", j.Bytes()[:20], ""},
		{"png header only", p.Bytes()[:8], ""},
		{"riff wave", []byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00"), ""},
		{"empty", nil, ""},
	} {
		got, err := sniffPhoto(c.b)
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("%s: %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestReadExifFromEveryContainer(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	tiff := gpsExif(t, 39.98456, 116.30812, "2026:11:30 09:15:00", "")
	for _, c := range []struct {
		ct string
		b  []byte
	}{
		{"image/jpeg", withJPEGExif(t, tiff)},
		{"image/png", withPNGExif(t, tiff)},
		{"image/webp", withWebPExif(t, tiff)},
	} {
		if ct, err := sniffPhoto(c.b); err != nil || ct != c.ct {
			t.Fatalf("%s with EXIF sniffed as %q, %v", c.ct, ct, err)
		}
		taken, lon, lat := readExif(exifPayload(c.ct, c.b), cst)
		if lon == nil || lat == nil || math.Abs(*lon-116.30812) > 1e-7 || math.Abs(*lat-39.98456) > 1e-7 {
			t.Errorf("%s: position %v %v", c.ct, lon, lat)
		}
		if want := time.Date(2026, 11, 30, 9, 15, 0, 0, cst); taken == nil || !taken.Equal(want) {
			t.Errorf("%s: taken %v, want %v", c.ct, taken, want)
		}
	}
	// An explicit offset wins over the city's zone; the southern and
	// western hemispheres are negative.
	b := withJPEGExif(t, gpsExif(t, -33.8568, -70.6483, "2026:01:02 03:04:05", "-03:00"))
	taken, lon, lat := readExif(exifPayload("image/jpeg", b), cst)
	if taken == nil || !taken.Equal(time.Date(2026, 1, 2, 6, 4, 5, 0, time.UTC)) {
		t.Errorf("taken %v", taken)
	}
	if lon == nil || *lon > -70.6 || *lat > -33.8 {
		t.Errorf("position %v %v", lon, lat)
	}
	// No EXIF at all, and garbage where EXIF should be: nothing, no panic.
	var plain bytes.Buffer
	_ = jpeg.Encode(&plain, testImage(), nil)
	if taken, lon, _ := readExif(exifPayload("image/jpeg", plain.Bytes()), cst); taken != nil || lon != nil {
		t.Errorf("plain JPEG: %v %v", taken, lon)
	}
	junk := withJPEGExif(t, []byte("II*\x00\xff\xff\xff\xffgarbage"))
	if taken, lon, _ := readExif(exifPayload("image/jpeg", junk), cst); taken != nil || lon != nil {
		t.Errorf("junk EXIF: %v %v", taken, lon)
	}
}

// BenchmarkPreparePhoto is the work intake does per photo before its
// transaction (sniff, decode the header, SHA-256, find and read EXIF) on
// a photo of about 10 MiB with EXIF.
func BenchmarkPreparePhoto(b *testing.B) {
	t := &testing.T{}
	big := image.NewRGBA(image.Rect(0, 0, 4000, 3000))
	for i := range big.Pix {
		big.Pix[i] = uint8(i * 2654435761 >> 24)
	}
	var j bytes.Buffer
	if err := jpeg.Encode(&j, big, &jpeg.Options{Quality: 100}); err != nil {
		b.Fatal(err)
	}
	tiff := gpsExif(t, 39.98, 116.30, "2026:11:30 09:15:00", "")
	seg := append([]byte("Exif\x00\x00"), tiff...)
	photo := append([]byte{0xFF, 0xD8, 0xFF, 0xE1, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)}, seg...)
	photo = append(photo, j.Bytes()[2:]...)
	s := &Store{cfg: Config{PhotoLimit: 64 << 20, Location: time.UTC}}
	b.SetBytes(int64(len(photo)))
	b.ResetTimer()
	for b.Loop() {
		r, err := s.preparePhotos([]PhotoInput{{Data: photo}}, 0)
		if err != nil || r[0].lon == nil {
			b.Fatal(err)
		}
	}
}
