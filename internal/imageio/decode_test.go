package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// decodeCase is one encoded image and what decoding it must produce.
type decodeCase struct {
	name      string
	data      []byte
	format    Format
	tolerance int // per 8-bit channel, for lossy encodings
	want      [4]color.Color
}

// decodeCases returns the quadrant pattern in every supported format and
// variant: Go-encoded where Go has an encoder, fixtures otherwise.
func decodeCases(t testing.TB) []decodeCase {
	img := quadrants(32, 24)
	gray := image.NewGray(img.Bounds())
	for y := 0; y < 24; y++ {
		for x := 0; x < 32; x++ {
			gray.Set(x, y, img.At(x, y))
		}
	}
	grayWant := [4]color.Color{
		color.GrayModel.Convert(red), color.GrayModel.Convert(green),
		color.GrayModel.Convert(blue), color.GrayModel.Convert(white),
	}
	alphaWant := [4]color.Color{red, green, blue, color.NRGBA{}}
	return []decodeCase{
		{"png", encodeWith(t, PNG, img), PNG, 0, quadrantColors},
		{"jpeg baseline", encodeWith(t, JPEG, img), JPEG, 8, quadrantColors},
		{"jpeg gray", encodeWith(t, JPEG, gray), JPEG, 8, grayWant},
		{"jpeg progressive", readFixture(t, "progressive.jpg"), JPEG, 8, quadrantColors},
		{"jpeg cmyk", readFixture(t, "cmyk.jpg"), JPEG, 8, quadrantColors},
		{"jpeg ycck", readFixture(t, "ycck.jpg"), JPEG, 8, quadrantColors},
		{"gif", encodeWith(t, GIF, img), GIF, 0, quadrantColors},
		{"webp lossy", readFixture(t, "lossy.webp"), WebP, 40, quadrantColors},
		{"webp lossless", readFixture(t, "lossless.webp"), WebP, 0, quadrantColors},
		{"webp lossy alpha", readFixture(t, "lossy-alpha.webp"), WebP, 40, alphaWant},
		{"bmp", encodeWith(t, BMP, img), BMP, 0, quadrantColors},
		{"tiff", encodeWith(t, TIFF, img), TIFF, 0, quadrantColors},
	}
}

func TestDecodeFormats(t *testing.T) {
	for _, tc := range decodeCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			img, f, err := Decode(bytes.NewReader(tc.data), Limits{})
			if err != nil {
				t.Fatalf("Decode(%s) error: %v", tc.name, err)
			}
			if f != tc.format {
				t.Errorf("Decode(%s) format = %q, want %q", tc.name, f, tc.format)
			}
			if got, want := img.Bounds(), image.Rect(0, 0, 32, 24); got != want {
				t.Errorf("Decode(%s) bounds = %v, want %v", tc.name, got, want)
			}
			checkCorners(t, "Decode("+tc.name+")", img, tc.want, tc.tolerance)
		})
	}
}

func TestDecodeBytesMatchesDecode(t *testing.T) {
	data := encodeWith(t, PNG, quadrants(8, 6))
	img, f, err := DecodeBytes(data, Limits{})
	if err != nil {
		t.Fatalf("DecodeBytes(png) error: %v", err)
	}
	if f != PNG {
		t.Errorf("DecodeBytes(png) format = %q, want %q", f, PNG)
	}
	checkCorners(t, "DecodeBytes(png)", img, quadrantColors, 0)
}

func TestDecodeFile(t *testing.T) {
	dir := t.TempDir()
	// The extension is wrong on purpose: the content decides the format.
	path := filepath.Join(dir, "image.jpg")
	if err := os.WriteFile(path, encodeWith(t, PNG, quadrants(8, 6)), 0o666); err != nil {
		t.Fatal(err)
	}
	img, f, err := DecodeFile(path, Limits{})
	if err != nil {
		t.Fatalf("DecodeFile(%q) error: %v", path, err)
	}
	if f != PNG {
		t.Errorf("DecodeFile(%q) format = %q, want %q", path, f, PNG)
	}
	checkCorners(t, "DecodeFile", img, quadrantColors, 0)
}

func TestDecodeFileErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o666); err != nil {
			t.Fatal(err)
		}
		return path
	}
	png := encodeWith(t, PNG, quadrants(8, 6))
	tests := []struct {
		name string
		path string
		lim  Limits
		want error
	}{
		{"missing", filepath.Join(dir, "missing.png"), Limits{}, fs.ErrNotExist},
		{"truncated", write("cut.png", png[:len(png)/2]), Limits{}, ErrCorrupt},
		{"text", write("notes.png", []byte("not an image")), Limits{}, ErrFormat},
		{"over byte limit", write("big.png", png), Limits{MaxBytes: int64(len(png) - 1)}, ErrTooLarge},
		{"over pixel limit", write("wide.png", png), Limits{MaxPixels: 47}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := DecodeFile(tt.path, tt.lim)
			if !errors.Is(err, tt.want) {
				t.Fatalf("DecodeFile(%q) error = %v, want %v", tt.path, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.path) {
				t.Errorf("DecodeFile(%q) error %q does not name the path", tt.path, err)
			}
		})
	}
}

func TestDecodeByteLimit(t *testing.T) {
	data := encodeWith(t, PNG, quadrants(8, 6))
	n := int64(len(data))

	if _, _, err := Decode(bytes.NewReader(data), Limits{MaxBytes: n}); err != nil {
		t.Errorf("Decode(%d bytes, MaxBytes %d) error: %v", n, n, err)
	}
	_, _, err := Decode(bytes.NewReader(data), Limits{MaxBytes: n - 1})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("Decode(%d bytes, MaxBytes %d) error = %v, want ErrTooLarge", n, n-1, err)
	}
	_, _, err = DecodeBytes(data, Limits{MaxBytes: n - 1})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("DecodeBytes(%d bytes, MaxBytes %d) error = %v, want ErrTooLarge", n, n-1, err)
	}
}

func TestDecodePixelLimit(t *testing.T) {
	data := encodeWith(t, PNG, quadrants(32, 24)) // 768 pixels
	if _, _, err := Decode(bytes.NewReader(data), Limits{MaxPixels: 768}); err != nil {
		t.Errorf("Decode(32x24, MaxPixels 768) error: %v", err)
	}
	_, _, err := Decode(bytes.NewReader(data), Limits{MaxPixels: 767})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Decode(32x24, MaxPixels 767) error = %v, want ErrTooLarge", err)
	}
	// The message must give the size, the pixel count, the limit and the fix.
	for _, part := range []string{"32x24", "768", "767", "MaxPixels"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("Decode(32x24, MaxPixels 767) error %q does not mention %q", err, part)
		}
	}
}

func TestDecodeNegativeLimits(t *testing.T) {
	data := encodeWith(t, PNG, quadrants(8, 6))
	for _, lim := range []Limits{{MaxPixels: -1}, {MaxBytes: -5}} {
		if _, _, err := Decode(bytes.NewReader(data), lim); err == nil {
			t.Errorf("Decode with %+v succeeded, want error", lim)
		}
	}
}

// pngChunk appends one PNG chunk (length, type, data, CRC-32 of type and
// data) to b.
func pngChunk(b []byte, typ string, data []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	start := len(b)
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[start:]))
}

// hugePNG returns a PNG signature and a valid IHDR chunk declaring a w×h
// 8-bit RGBA image, followed by bytes that are not PNG chunks:
//
//	89 50 4e 47 0d 0a 1a 0a                 signature
//	00 00 00 0d 49 48 44 52                 IHDR, 13 bytes
//	<w:4> <h:4> 08 06 00 00 00 <crc:4>      size, depth 8, RGBA
//	ff ff ff ...                            garbage
func hugePNG(w, h uint32) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0)
	b = pngChunk(b, "IHDR", ihdr)
	return append(b, bytes.Repeat([]byte{0xFF}, 64)...)
}

// hugeJPEG returns a Go-encoded JPEG whose SOF0 header is patched to
// declare w×h.
func hugeJPEG(t testing.TB, w, h uint16) []byte {
	data := encodeWith(t, JPEG, quadrants(16, 16))
	i := bytes.Index(data, []byte{0xFF, 0xC0})
	if i < 0 {
		t.Fatal("Go-encoded JPEG has no SOF0 marker")
	}
	// FF C0, length (2), precision (1), height (2), width (2).
	binary.BigEndian.PutUint16(data[i+5:], h)
	binary.BigEndian.PutUint16(data[i+7:], w)
	return data
}

// hugeGIF returns a GIF header whose logical screen is w×h, with no colour
// table and no frames.
func hugeGIF(w, h uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	return append(b, 0, 0, 0, ';')
}

// hugeBMP returns a Go-encoded 1×1 BMP whose info header is patched to
// declare w×h.
func hugeBMP(t testing.TB, w, h int32) []byte {
	data := encodeWith(t, BMP, quadrants(2, 2).SubImage(image.Rect(0, 0, 1, 1)))
	binary.LittleEndian.PutUint32(data[18:], uint32(w))
	binary.LittleEndian.PutUint32(data[22:], uint32(h))
	return data
}

// hugeTIFF returns a little-endian TIFF whose single IFD declares a w×h
// 8-bit grayscale image in one uncompressed strip that is not there.
func hugeTIFF(w, h uint32) []byte {
	type entry struct {
		tag, typ uint16
		value    uint32
	}
	const short, long = 3, 4
	entries := []entry{
		{256, long, w},       // ImageWidth
		{257, long, h},       // ImageLength
		{258, short, 8},      // BitsPerSample
		{259, short, 1},      // Compression: none
		{262, short, 1},      // PhotometricInterpretation: BlackIsZero
		{273, long, 8},       // StripOffsets
		{277, short, 1},      // SamplesPerPixel
		{278, long, h},       // RowsPerStrip
		{279, long, w * 100}, // StripByteCounts
	}
	b := []byte("II*\x00")
	b = binary.LittleEndian.AppendUint32(b, 8)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(entries)))
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.typ)
		b = binary.LittleEndian.AppendUint32(b, 1)
		if e.typ == short {
			b = binary.LittleEndian.AppendUint16(b, uint16(e.value))
			b = append(b, 0, 0)
		} else {
			b = binary.LittleEndian.AppendUint32(b, e.value)
		}
	}
	return binary.LittleEndian.AppendUint32(b, 0) // no next IFD
}

// hugeWebP returns a RIFF WebP file with only a VP8X chunk declaring a w×h
// canvas (each at most 2^24).
func hugeWebP(w, h uint32, flags byte) []byte {
	vp8x := []byte{flags, 0, 0, 0,
		byte(w - 1), byte((w - 1) >> 8), byte((w - 1) >> 16),
		byte(h - 1), byte((h - 1) >> 8), byte((h - 1) >> 16)}
	b := []byte("RIFF")
	b = binary.LittleEndian.AppendUint32(b, uint32(4+8+len(vp8x)))
	b = append(b, "WEBPVP8X"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(vp8x)))
	return append(b, vp8x...)
}

func TestDecodeRejectsHugeDeclaredSize(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"png 100000x100000", hugePNG(100000, 100000)},
		{"png 2^31-1 square", hugePNG(1<<31-1, 1<<31-1)},
		{"jpeg 65000x65000", hugeJPEG(t, 65000, 65000)},
		{"gif 65535x65535", hugeGIF(65535, 65535)},
		{"bmp 20000x20000", hugeBMP(t, 20000, 20000)},
		{"bmp top-down 20000x20000", hugeBMP(t, 20000, -20000)},
		{"tiff 100000x100000", hugeTIFF(100000, 100000)},
		{"webp 16000x16000", hugeWebP(16000, 16000, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Warm up once so that one-time initialisation does not count.
			Decode(bytes.NewReader(tt.data), Limits{})

			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			img, _, err := Decode(bytes.NewReader(tt.data), Limits{})
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)

			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Decode(%s) = %v, %v, want ErrTooLarge", tt.name, img, err)
			}
			// Decoding any of these would need gigabytes. Rejecting them
			// needs the input copy and a few small headers.
			const maxAlloc = 1 << 20
			n := after.TotalAlloc - before.TotalAlloc
			t.Logf("Decode(%s) rejected %d input bytes in %v after allocating %d bytes", tt.name, len(tt.data), elapsed, n)
			if n > maxAlloc {
				t.Errorf("Decode(%s) allocated %d bytes before rejecting, want at most %d", tt.name, n, maxAlloc)
			}
			if elapsed > time.Second {
				t.Errorf("Decode(%s) took %v to reject, want well under a second", tt.name, elapsed)
			}
		})
	}
}

func TestDecodeHugePNGAllocs(t *testing.T) {
	data := hugePNG(100000, 100000)
	allocs := testing.AllocsPerRun(20, func() {
		DecodeBytes(data, Limits{})
	})
	// A handful of allocations for the decoder state and the error message.
	// Any pixel buffer would be a single allocation of 40 GB, which the
	// MemStats test above would catch, so this bounds the count only.
	if allocs > 50 {
		t.Errorf("DecodeBytes(100000x100000 png) made %.0f allocations, want at most 50", allocs)
	}
}

func TestDecodeTruncated(t *testing.T) {
	for _, tc := range decodeCases(t) {
		for _, n := range []int{len(tc.data) / 2, len(tc.data) - 20, 20} {
			t.Run(tc.name, func(t *testing.T) {
				img, _, err := Decode(bytes.NewReader(tc.data[:n]), Limits{})
				if err == nil {
					t.Fatalf("Decode(%s cut to %d of %d bytes) = %v, want error", tc.name, n, len(tc.data), img.Bounds())
				}
				if !errors.Is(err, ErrCorrupt) {
					t.Errorf("Decode(%s cut to %d of %d bytes) error = %v, want ErrCorrupt", tc.name, n, len(tc.data), err)
				}
			})
		}
	}
}

func TestDecodeUnknown(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		{"empty", ""},
		{"text", "hello, world"},
		{"zeros", strings.Repeat("\x00", 64)},
		{"bigtiff", "II+\x00\x08\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00"},
		{"riff avi", "RIFF\x04\x00\x00\x00AVI LIST"},
		{"avif", "\x00\x00\x00\x1cftypavif\x00\x00\x00\x00"},
		{"webp animated", string(hugeWebP(4, 4, 0x02))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, f, err := Decode(strings.NewReader(tt.data), Limits{})
			if !errors.Is(err, ErrFormat) {
				t.Errorf("Decode(%q) = %v, %q, %v, want ErrFormat", tt.data, img, f, err)
			}
		})
	}
}

func TestDecodeZeroSize(t *testing.T) {
	for _, data := range [][]byte{hugeGIF(0, 5), hugeGIF(5, 0), hugePNG(0, 0)} {
		_, _, err := Decode(bytes.NewReader(data), Limits{})
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("Decode(% x) error = %v, want ErrCorrupt", data[:12], err)
		}
	}
}

func TestDecodeReadError(t *testing.T) {
	readErr := errors.New("disk on fire")
	_, _, err := Decode(iotest.ErrReader(readErr), Limits{})
	if !errors.Is(err, readErr) {
		t.Errorf("Decode(failing reader) error = %v, want it to wrap %v", err, readErr)
	}
	for _, sentinel := range []error{ErrTooLarge, ErrFormat, ErrCorrupt} {
		if errors.Is(err, sentinel) {
			t.Errorf("Decode(failing reader) error = %v, wraps %v, want no sentinel", err, sentinel)
		}
	}
}

func TestDecodeGIFFirstFrame(t *testing.T) {
	frame := func(c color.Color, r image.Rectangle) *image.Paletted {
		p := image.NewPaletted(r, color.Palette{color.Transparent, c})
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				p.SetColorIndex(x, y, 1)
			}
		}
		return p
	}
	screen := image.Rect(0, 0, 16, 16)

	t.Run("two frames", func(t *testing.T) {
		var buf bytes.Buffer
		anim := &gif.GIF{
			Image: []*image.Paletted{frame(red, screen), frame(blue, screen)},
			Delay: []int{10, 10},
		}
		if err := gif.EncodeAll(&buf, anim); err != nil {
			t.Fatal(err)
		}
		img, _, err := Decode(&buf, Limits{})
		if err != nil {
			t.Fatalf("Decode(two-frame gif) error: %v", err)
		}
		if got := img.At(8, 8); !near(got, red, 0) {
			t.Errorf("Decode(two-frame gif).At(8, 8) = %v, want the first frame's %v", got, red)
		}
	})

	t.Run("frame smaller than screen", func(t *testing.T) {
		var buf bytes.Buffer
		anim := &gif.GIF{
			Image:  []*image.Paletted{frame(green, image.Rect(4, 4, 12, 12))},
			Delay:  []int{0},
			Config: image.Config{Width: 16, Height: 16, ColorModel: color.Palette{color.Transparent, green}},
		}
		if err := gif.EncodeAll(&buf, anim); err != nil {
			t.Fatal(err)
		}
		img, _, err := Decode(&buf, Limits{})
		if err != nil {
			t.Fatalf("Decode(small-frame gif) error: %v", err)
		}
		if got := img.Bounds(); got != screen {
			t.Errorf("Decode(small-frame gif) bounds = %v, want %v", got, screen)
		}
		if got := img.At(8, 8); !near(got, green, 0) {
			t.Errorf("Decode(small-frame gif).At(8, 8) = %v, want %v", got, green)
		}
		if got := img.At(1, 1); !near(got, color.NRGBA{}, 0) {
			t.Errorf("Decode(small-frame gif).At(1, 1) = %v, want transparent", got)
		}
	})
}

func TestRecoverPanic(t *testing.T) {
	err := recoverPanic(func() error { panic("index out of range") })
	if err == nil || !strings.Contains(err.Error(), "index out of range") {
		t.Errorf("recoverPanic(panicking func) = %v, want an error carrying the panic value", err)
	}
	if classified := classify(PNG, err); !errors.Is(classified, ErrCorrupt) {
		t.Errorf("classify(png, %v) = %v, want ErrCorrupt", err, classified)
	}
}

func TestFixtureSourcesMatchPattern(t *testing.T) {
	// The fixtures were made from these two files, so they must still hold
	// the pattern the tests expect.
	alpha := quadrants(32, 24)
	for y := 12; y < 24; y++ {
		for x := 16; x < 32; x++ {
			alpha.Pix[alpha.PixOffset(x, y)+3] = 0
		}
	}
	for name, want := range map[string]image.Image{
		"quadrants.png":       quadrants(32, 24),
		"quadrants-alpha.png": alpha,
	} {
		img, _, err := DecodeBytes(readFixture(t, name), Limits{})
		if err != nil {
			t.Fatalf("DecodeBytes(%s) error: %v", name, err)
		}
		checkSamePixels(t, name, img, want)
	}
}

func TestCMYKFixturesTransform(t *testing.T) {
	// Byte 0x11 is the transform flag of the Adobe APP14 segment that both
	// files start with: 0 for CMYK, 2 for YCCK.
	for name, want := range map[string]byte{"cmyk.jpg": 0, "ycck.jpg": 2} {
		data := readFixture(t, name)
		if len(data) < 0x12 || string(data[6:11]) != "Adobe" {
			t.Fatalf("%s does not start with an Adobe APP14 segment", name)
		}
		if got := data[0x11]; got != want {
			t.Errorf("%s Adobe transform = %d, want %d", name, got, want)
		}
	}
}
