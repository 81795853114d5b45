package imageio

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"io"
	"strings"
	"testing"
)

// semiTransparent returns the quadrants image with the white quadrant made
// fully transparent and the blue one half transparent.
func semiTransparent(w, h int) *image.NRGBA {
	img := quadrants(w, h)
	for y := h / 2; y < h; y++ {
		for x := 0; x < w; x++ {
			i := img.PixOffset(x, y)
			if x < w/2 {
				img.Pix[i+3] = 128
			} else {
				img.Pix[i+3] = 0
			}
		}
	}
	return img
}

func TestEncodeRoundTrip(t *testing.T) {
	opaque := quadrants(32, 24)
	alpha := semiTransparent(32, 24)
	halfBlue := color.NRGBA{0, 0, 255, 128}
	clear := color.NRGBA{255, 255, 255, 0}

	tests := []struct {
		name      string
		img       image.Image
		format    Format
		quality   int
		tolerance int
		want      [4]color.Color
		exact     bool // every pixel must survive unchanged
	}{
		{"png", opaque, PNG, 0, 0, quadrantColors, true},
		{"png alpha", alpha, PNG, 0, 0, [4]color.Color{red, green, halfBlue, clear}, true},
		{"jpeg default", opaque, JPEG, 0, 8, quadrantColors, false},
		{"jpeg q1", opaque, JPEG, 1, 80, quadrantColors, false},
		{"jpeg q100", opaque, JPEG, 100, 4, quadrantColors, false},
		// JPEG keeps each pixel's own colour and drops its alpha.
		{"jpeg drops alpha", alpha, JPEG, 95, 8, quadrantColors, false},
		{"webp lossy", opaque, WebP, 0, 40, quadrantColors, false},
		{"webp lossy q1", opaque, WebP, 1, 60, quadrantColors, false},
		{"webp lossy alpha", alpha, WebP, 80, 40, [4]color.Color{red, green, halfBlue, color.NRGBA{}}, false},
		{"webp lossless", opaque, WebP, 100, 0, quadrantColors, true},
		{"webp lossless alpha", alpha, WebP, 100, 0, [4]color.Color{red, green, halfBlue, clear}, true},
		{"gif", opaque, GIF, 0, 0, quadrantColors, true},
		{"bmp", opaque, BMP, 0, 0, quadrantColors, true},
		{"bmp drops alpha", alpha, BMP, 0, 0, quadrantColors, false},
		{"tiff", opaque, TIFF, 0, 0, quadrantColors, true},
		{"tiff alpha", alpha, TIFF, 0, 0, [4]color.Color{red, green, halfBlue, clear}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Encode(&buf, tt.img, tt.format, tt.quality); err != nil {
				t.Fatalf("Encode(%s, %d) error: %v", tt.format, tt.quality, err)
			}
			img, f, err := Decode(&buf, Limits{})
			if err != nil {
				t.Fatalf("Decode(Encode(%s, %d)) error: %v", tt.format, tt.quality, err)
			}
			if f != tt.format {
				t.Errorf("Decode(Encode(%s)) format = %q, want %q", tt.format, f, tt.format)
			}
			if got, want := img.Bounds(), tt.img.Bounds(); got != want {
				t.Fatalf("Decode(Encode(%s)) bounds = %v, want %v", tt.format, got, want)
			}
			checkCorners(t, "Decode(Encode("+tt.name+"))", img, tt.want, tt.tolerance)
			if tt.exact {
				checkSamePixels(t, tt.name, img, tt.img)
			}
		})
	}
}

// checkSamePixels fails t unless got and want have the same size and the same
// non-premultiplied colour at every pixel, matched by offset from each one's
// bounds minimum. Fully transparent pixels compare their alpha only, because
// premultiplied storage cannot keep their colour.
func checkSamePixels(t *testing.T, name string, got, want image.Image) {
	t.Helper()
	b := want.Bounds()
	if got.Bounds().Size() != b.Size() {
		t.Fatalf("%s: size = %v, want %v", name, got.Bounds().Size(), b.Size())
	}
	shift := got.Bounds().Min.Sub(b.Min)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			g := color.NRGBAModel.Convert(got.At(x+shift.X, y+shift.Y)).(color.NRGBA)
			w := color.NRGBAModel.Convert(want.At(x, y)).(color.NRGBA)
			if w.A == 0 && g.A == 0 {
				continue
			}
			if g != w {
				t.Fatalf("%s: pixel (%d, %d) = %v, want %v", name, x, y, g, w)
			}
		}
	}
}

func TestEncodeWebPLosslessKeepsHiddenColour(t *testing.T) {
	// Quality 100 asks libwebp to keep the colour of transparent pixels.
	img := semiTransparent(16, 16)
	var buf bytes.Buffer
	if err := Encode(&buf, img, WebP, 100); err != nil {
		t.Fatal(err)
	}
	got, _, err := Decode(&buf, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if c := color.NRGBAModel.Convert(got.At(12, 12)).(color.NRGBA); c != (color.NRGBA{255, 255, 255, 0}) {
		t.Errorf("Decode(Encode(webp, 100)).At(12, 12) = %v, want {255 255 255 0}", c)
	}
}

func TestEncodeWebPSubImage(t *testing.T) {
	// A sub-image has a non-zero origin and a stride wider than its rows.
	big := image.NewRGBA(image.Rect(0, 0, 64, 64))
	src := quadrants(32, 24)
	for y := 0; y < 24; y++ {
		for x := 0; x < 32; x++ {
			big.Set(x+10, y+20, src.At(x, y))
		}
	}
	sub := big.SubImage(image.Rect(10, 20, 42, 44))
	var buf bytes.Buffer
	if err := Encode(&buf, sub, WebP, 100); err != nil {
		t.Fatalf("Encode(sub-image, webp) error: %v", err)
	}
	img, _, err := Decode(&buf, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Bounds(); got != image.Rect(0, 0, 32, 24) {
		t.Errorf("Decode(Encode(sub-image, webp)) bounds = %v, want (0,0)-(32,24)", got)
	}
	checkSamePixels(t, "webp sub-image", img, src)
}

func TestEncodeJPEGDropsAlphaOfPremultiplied(t *testing.T) {
	// An *image.RGBA pixel at half alpha stores half its colour; dropping
	// alpha must restore the full colour, not keep the darker stored value.
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = 128, 0, 0, 128
	}
	var buf bytes.Buffer
	if err := Encode(&buf, img, JPEG, 95); err != nil {
		t.Fatal(err)
	}
	got, _, err := Decode(&buf, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if c := got.At(8, 8); !near(c, red, 8) {
		t.Errorf("Decode(Encode(half-alpha red RGBA, jpeg)).At(8, 8) = %v, want about %v", c, red)
	}
}

func TestEncodeErrors(t *testing.T) {
	img := quadrants(8, 8)
	tests := []struct {
		name    string
		img     image.Image
		format  Format
		quality int
		want    error  // a sentinel, or nil when only a plain error is expected
		mention string // text the message must contain
	}{
		{"quality -1", img, JPEG, -1, nil, "-1"},
		{"quality 101", img, WebP, 101, nil, "101"},
		{"quality 101 png", img, PNG, 101, nil, "1 to 100"},
		{"unknown format", img, "heic", 0, ErrFormat, "heic"},
		{"empty format", img, "", 0, ErrFormat, "png"},
		{"nil image", nil, PNG, 0, nil, "nil"},
		{"empty image", image.NewNRGBA(image.Rect(0, 0, 0, 5)), PNG, 0, nil, "no pixels"},
		{"webp too wide", image.NewGray(image.Rect(0, 0, 16384, 1)), WebP, 0, nil, "16383"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Encode(&buf, tt.img, tt.format, tt.quality)
			if err == nil {
				t.Fatalf("Encode(%s) succeeded, want error", tt.name)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Encode(%s) error = %v, want %v", tt.name, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("Encode(%s) error %q does not mention %q", tt.name, err, tt.mention)
			}
			if buf.Len() != 0 {
				t.Errorf("Encode(%s) wrote %d bytes before failing, want 0", tt.name, buf.Len())
			}
		})
	}
}

func TestEncodeQualityChangesJPEGSize(t *testing.T) {
	// A noisy image makes the quality visible in the file size.
	img := image.NewGray(image.Rect(0, 0, 64, 64))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7919 % 251)
	}
	size := func(q int) int {
		var buf bytes.Buffer
		if err := Encode(&buf, img, JPEG, q); err != nil {
			t.Fatal(err)
		}
		return buf.Len()
	}
	if low, high := size(10), size(95); low >= high {
		t.Errorf("Encode(jpeg) size at quality 10 = %d, at 95 = %d, want the first smaller", low, high)
	}
	if def, q90 := size(0), size(DefaultQuality); def != q90 {
		t.Errorf("Encode(jpeg) size at quality 0 = %d, at %d = %d, want equal", def, DefaultQuality, q90)
	}
}

func BenchmarkEncode(b *testing.B) {
	img := semiTransparent(256, 256)
	// Add detail so the encoders have more than flat colour to compress.
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i+1] ^= byte(i * 31 / 7)
	}
	cases := []struct {
		name    string
		format  Format
		quality int
	}{
		{"png", PNG, 0},
		{"jpeg-90", JPEG, 90},
		{"webp-90", WebP, 90},
		{"webp-lossless", WebP, 100},
	}
	for _, c := range cases {
		b.Run(c.name+"/256x256", func(b *testing.B) {
			// The first WebP encode compiles the WebAssembly module, so
			// encode once before timing.
			if err := Encode(io.Discard, img, c.format, c.quality); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := Encode(io.Discard, img, c.format, c.quality); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(256*256*b.N)/b.Elapsed().Seconds(), "px/s")
		})
	}
}

func TestEncodeWebPImageTypes(t *testing.T) {
	// Lossless WebP must keep every pixel of each image type, including
	// sizes whose rows are not a multiple of 4 bytes.
	src := semiTransparent(20, 10)
	paletted := image.NewPaletted(src.Bounds(), color.Palette{red, green, color.NRGBA{0, 0, 255, 128}, color.NRGBA{}})
	gray := image.NewGray(src.Bounds())
	rgba64 := image.NewRGBA64(src.Bounds())
	for y := 0; y < 10; y++ {
		for x := 0; x < 20; x++ {
			paletted.Set(x, y, src.At(x, y))
			gray.Set(x, y, src.At(x, y))
			rgba64.Set(x, y, src.At(x, y))
		}
	}
	tests := []struct {
		name string
		img  image.Image
	}{
		{"1x1", quadrants(2, 2).SubImage(image.Rect(1, 1, 2, 2))},
		{"paletted", paletted},
		{"gray", gray},
		{"rgba64", rgba64},
		{"ycbcr", func() image.Image {
			img, _, err := DecodeBytes(encodeWith(t, JPEG, quadrants(20, 10)), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			return img
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Encode(&buf, tt.img, WebP, 100); err != nil {
				t.Fatalf("Encode(%s, webp) error: %v", tt.name, err)
			}
			got, _, err := Decode(&buf, Limits{})
			if err != nil {
				t.Fatalf("Decode(Encode(%s, webp)) error: %v", tt.name, err)
			}
			checkSamePixels(t, "webp "+tt.name, got, tt.img)
		})
	}
}

// failingWriter accepts n bytes and then fails.
type failingWriter struct{ n int }

var errWriterFull = errors.New("writer full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		written := w.n
		w.n = 0
		return written, errWriterFull
	}
	w.n -= len(p)
	return len(p), nil
}

func TestEncodeWriterError(t *testing.T) {
	img := quadrants(64, 64)
	for _, f := range []Format{PNG, JPEG, GIF, WebP, BMP, TIFF} {
		t.Run(string(f), func(t *testing.T) {
			err := Encode(&failingWriter{n: 10}, img, f, 0)
			if !errors.Is(err, errWriterFull) {
				t.Errorf("Encode(%s) to a failing writer error = %v, want %v", f, err, errWriterFull)
			}
		})
	}
}

func TestEncodeConcurrent(t *testing.T) {
	img := quadrants(32, 24)
	formats := []Format{PNG, JPEG, WebP, WebP, GIF, BMP, TIFF}
	errs := make(chan error, len(formats))
	for _, f := range formats {
		go func() {
			var buf bytes.Buffer
			if err := Encode(&buf, img, f, 0); err != nil {
				errs <- err
				return
			}
			_, _, err := Decode(&buf, Limits{})
			errs <- err
		}()
	}
	for range formats {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Encode and Decode error: %v", err)
		}
	}
}
