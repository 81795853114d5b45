package imageio

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"testing"
)

// exifSegment returns a JPEG APP1 segment holding an EXIF TIFF structure
// whose IFD0 has one entry, the orientation tag with the given type (3 for
// SHORT, 4 for LONG) and value:
//
//	ff e1 <len:2>                   APP1 marker and length
//	45 78 69 66 00 00               "Exif\0\0"
//	49 49 2a 00 08 00 00 00         "II", 42, IFD0 at offset 8 (or "MM" form)
//	01 00                           one entry
//	12 01 <type:2> 01 00 00 00 <value:4>
//	00 00 00 00                     no next IFD
func exifSegment(order byteOrder, typ uint16, value uint32) []byte {
	t := []byte("II")
	if order == byteOrder(binary.BigEndian) {
		t = []byte("MM")
	}
	t = order.AppendUint16(t, 42)
	t = order.AppendUint32(t, 8)
	t = order.AppendUint16(t, 1)
	t = order.AppendUint16(t, tagOrientation)
	t = order.AppendUint16(t, typ)
	t = order.AppendUint32(t, 1)
	if typ == 3 {
		// A SHORT value sits in the first two bytes of the value field.
		t = order.AppendUint16(t, uint16(value))
		t = append(t, 0, 0)
	} else {
		t = order.AppendUint32(t, value)
	}
	t = order.AppendUint32(t, 0)

	payload := append([]byte("Exif\x00\x00"), t...)
	seg := []byte{0xFF, markerAPP1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(2+len(payload)))
	return append(seg, payload...)
}

// byteOrder is implemented by binary.LittleEndian and binary.BigEndian.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// withSegments inserts segments right after the SOI marker of a JPEG file.
func withSegments(jpegData []byte, segments ...[]byte) []byte {
	out := append([]byte(nil), jpegData[:2]...)
	for _, s := range segments {
		out = append(out, s...)
	}
	return append(out, jpegData[2:]...)
}

// jfifSegment is a minimal JFIF APP0 segment, which usually precedes EXIF.
var jfifSegment = []byte{0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0}

// orientationCases lists, for a stored 32×16 quadrants image (red, green /
// blue, white), the upright corner colours and size for each EXIF
// orientation. The arrangements follow the EXIF definition of where stored
// row 0 and column 0 end up, worked out by hand.
var orientationCases = []struct {
	orientation int
	size        image.Point
	corners     [4]color.Color // top-left, top-right, bottom-left, bottom-right
}{
	{1, image.Pt(32, 16), [4]color.Color{red, green, blue, white}},
	{2, image.Pt(32, 16), [4]color.Color{green, red, white, blue}},
	{3, image.Pt(32, 16), [4]color.Color{white, blue, green, red}},
	{4, image.Pt(32, 16), [4]color.Color{blue, white, red, green}},
	{5, image.Pt(16, 32), [4]color.Color{red, blue, green, white}},
	{6, image.Pt(16, 32), [4]color.Color{blue, red, white, green}},
	{7, image.Pt(16, 32), [4]color.Color{white, green, blue, red}},
	{8, image.Pt(16, 32), [4]color.Color{green, white, red, blue}},
}

func TestDecodeEXIFOrientation(t *testing.T) {
	base := encodeWith(t, JPEG, quadrants(32, 16))
	orders := []struct {
		name  string
		order byteOrder
	}{{"II", binary.LittleEndian}, {"MM", binary.BigEndian}}

	for _, tc := range orientationCases {
		for _, o := range orders {
			name := o.name + "/" + string(rune('0'+tc.orientation))
			t.Run(name, func(t *testing.T) {
				data := withSegments(base, jfifSegment, exifSegment(o.order, 3, uint32(tc.orientation)))
				img, _, err := DecodeBytes(data, Limits{})
				if err != nil {
					t.Fatalf("DecodeBytes(orientation %d) error: %v", tc.orientation, err)
				}
				if got := img.Bounds().Size(); got != tc.size {
					t.Errorf("DecodeBytes(orientation %d) size = %v, want %v", tc.orientation, got, tc.size)
				}
				checkCorners(t, "DecodeBytes(orientation "+name+")", img, tc.corners, 8)
			})
		}
	}
}

func TestDecodeEXIFOrientationKeepsType(t *testing.T) {
	// Gray and CMYK images are turned in their own type; the size swap and a
	// corner show that the orientation was applied.
	gray := image.NewGray(image.Rect(0, 0, 32, 16))
	for y := 0; y < 16; y++ {
		for x := 0; x < 32; x++ {
			if x < 16 && y < 8 {
				gray.SetGray(x, y, color.Gray{Y: 255})
			}
		}
	}
	grayJPEG := withSegments(encodeWith(t, JPEG, gray), exifSegment(binary.BigEndian, 3, 6))
	cmykJPEG := withSegments(readFixture(t, "cmyk.jpg"), exifSegment(binary.LittleEndian, 3, 6))

	tests := []struct {
		name     string
		data     []byte
		wantType string
		wantSize image.Point
		topRight color.Color // orientation 6 puts the stored top-left here
	}{
		{"gray", grayJPEG, "*image.Gray", image.Pt(16, 32), color.Gray{Y: 255}},
		{"cmyk", cmykJPEG, "*image.CMYK", image.Pt(24, 32), red},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, _, err := DecodeBytes(tt.data, Limits{})
			if err != nil {
				t.Fatalf("DecodeBytes(%s, orientation 6) error: %v", tt.name, err)
			}
			if got := typeName(img); got != tt.wantType {
				t.Errorf("DecodeBytes(%s, orientation 6) type = %s, want %s", tt.name, got, tt.wantType)
			}
			if got := img.Bounds().Size(); got != tt.wantSize {
				t.Errorf("DecodeBytes(%s, orientation 6) size = %v, want %v", tt.name, got, tt.wantSize)
			}
			b := img.Bounds()
			if got := img.At(b.Max.X-2, 1); !near(got, tt.topRight, 8) {
				t.Errorf("DecodeBytes(%s, orientation 6) top-right pixel = %v, want %v", tt.name, got, tt.topRight)
			}
		})
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *image.Gray:
		return "*image.Gray"
	case *image.CMYK:
		return "*image.CMYK"
	case *image.RGBA:
		return "*image.RGBA"
	case *image.YCbCr:
		return "*image.YCbCr"
	}
	return "other"
}

func TestJPEGOrientation(t *testing.T) {
	base := encodeWith(t, JPEG, quadrants(16, 16))
	le, be := binary.LittleEndian, binary.BigEndian

	// A segment whose length runs past the end of the file.
	overlong := []byte{0xFF, 0xE1, 0xFF, 0xFF, 'E', 'x', 'i', 'f', 0, 0}
	// EXIF whose IFD0 offset points past the segment.
	badOffset := exifSegment(le, 3, 6)
	binary.LittleEndian.PutUint32(badOffset[4+6+4:], 0xFFFFFF00)
	// EXIF with a wrong TIFF magic number.
	badMagic := exifSegment(be, 3, 6)
	badMagic[4+6+3] = 43
	// EXIF with an entry count larger than the segment holds. The entries
	// that are present are still read.
	badCount := exifSegment(le, 3, 6)
	binary.LittleEndian.PutUint16(badCount[4+6+8:], 500)
	// EXIF that ends halfway through its only entry.
	cutEntry := exifSegment(le, 3, 6)[:4+6+8+2+6]
	binary.BigEndian.PutUint16(cutEntry[2:], uint16(len(cutEntry)-2))

	tests := []struct {
		name string
		data []byte
		want int
	}{
		{"no exif", base, 1},
		{"short type", withSegments(base, exifSegment(le, 3, 8)), 8},
		{"long type", withSegments(base, exifSegment(be, 4, 5)), 5},
		{"after jfif", withSegments(base, jfifSegment, exifSegment(le, 3, 3)), 3},
		{"fill bytes before marker", withSegments(base, []byte{0xFF, 0xFF}, exifSegment(le, 3, 7)), 7},
		{"value 0", withSegments(base, exifSegment(le, 3, 0)), 1},
		{"value 9", withSegments(base, exifSegment(le, 3, 9)), 1},
		{"wrong type", withSegments(base, exifSegment(le, 5, 6)), 1},
		{"overlong segment", withSegments(base, overlong), 1},
		{"ifd offset past end", withSegments(base, badOffset), 1},
		{"wrong magic", withSegments(base, badMagic), 1},
		{"entry count past end", withSegments(base, badCount), 6},
		{"entry cut short", withSegments(base, cutEntry), 1},
		{"not jpeg", []byte("GIF89a"), 1},
		{"soi only", []byte{0xFF, 0xD8}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jpegOrientation(tt.data); got != tt.want {
				t.Errorf("jpegOrientation(%s) = %d, want %d", tt.name, got, tt.want)
			}
		})
	}
}

func TestJPEGOrientationMalformedStillDecodes(t *testing.T) {
	base := encodeWith(t, JPEG, quadrants(16, 16))
	bad := exifSegment(binary.LittleEndian, 3, 6)
	binary.LittleEndian.PutUint32(bad[4+6+4:], 0xFFFFFF00)
	img, _, err := DecodeBytes(withSegments(base, bad), Limits{})
	if err != nil {
		t.Fatalf("DecodeBytes(jpeg with malformed EXIF) error: %v", err)
	}
	checkCorners(t, "DecodeBytes(jpeg with malformed EXIF)", img, quadrantColors, 8)
}

func TestOrientSubImage(t *testing.T) {
	// orient must honour bounds that do not start at (0, 0).
	full := image.NewRGBA(image.Rect(0, 0, 40, 40))
	src := quadrants(32, 16)
	for y := 0; y < 16; y++ {
		for x := 0; x < 32; x++ {
			full.Set(x+5, y+7, src.At(x, y))
		}
	}
	sub := full.SubImage(image.Rect(5, 7, 37, 23))
	for _, tc := range orientationCases {
		got := orient(sub, tc.orientation)
		if size := got.Bounds().Size(); size != tc.size {
			t.Errorf("orient(sub-image, %d) size = %v, want %v", tc.orientation, size, tc.size)
		}
		checkCorners(t, "orient(sub-image, "+string(rune('0'+tc.orientation))+")", got, tc.corners, 0)
	}
}

func TestOrientIdentity(t *testing.T) {
	img := quadrants(4, 4)
	for _, o := range []int{1, 0, 9, -1} {
		if got := orient(img, o); got != image.Image(img) {
			t.Errorf("orient(img, %d) returned a new image, want img itself", o)
		}
	}
}

// TestWithSegmentsPreservesJPEG guards the helper: the spliced file must
// still start with SOI and contain the original scan.
func TestWithSegmentsPreservesJPEG(t *testing.T) {
	base := encodeWith(t, JPEG, quadrants(8, 8))
	out := withSegments(base, exifSegment(binary.LittleEndian, 3, 1))
	if !bytes.HasPrefix(out, []byte{0xFF, 0xD8, 0xFF, 0xE1}) || !bytes.HasSuffix(out, base[2:]) {
		t.Errorf("withSegments did not insert the segment after SOI")
	}
}
