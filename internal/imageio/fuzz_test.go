package imageio

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fuzzLimits keep each fuzz input cheap: the seeds are at most 32×24 pixels
// and a few kilobytes.
var fuzzLimits = Limits{MaxPixels: 1 << 16, MaxBytes: 1 << 16}

func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		if filepath.Ext(name) == ".md" {
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, format := range []Format{PNG, JPEG, GIF, BMP, TIFF} {
		f.Add(encodeWith(f, format, quadrants(12, 8)))
	}
	f.Add(encodeWith(f, PNG, semiTransparent(12, 8)))
	f.Add(hugePNG(100000, 100000))
	f.Add(hugeGIF(65535, 65535))
	f.Add(hugeWebP(16000, 16000, 0))

	f.Fuzz(func(t *testing.T, data []byte) {
		img, format, err := DecodeBytes(data, fuzzLimits)
		if err != nil {
			// Every failure on in-memory input is bad input, so it must
			// wrap exactly one sentinel.
			n := 0
			for _, sentinel := range []error{ErrTooLarge, ErrFormat, ErrCorrupt} {
				if errors.Is(err, sentinel) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("DecodeBytes error %q wraps %d sentinels, want 1", err, n)
			}
			return
		}
		if !format.valid() {
			t.Fatalf("DecodeBytes format = %q, want a supported format", format)
		}
		b := img.Bounds()
		if b.Empty() || int64(b.Dx())*int64(b.Dy()) > fuzzLimits.MaxPixels {
			t.Fatalf("DecodeBytes bounds = %v, want non-empty and at most %d pixels", b, fuzzLimits.MaxPixels)
		}
		HasAlpha(img)

		// Whatever decodes must survive a lossless round trip.
		var buf bytes.Buffer
		if err := Encode(&buf, img, PNG, 0); err != nil {
			t.Fatalf("Encode(decoded %s, png) error: %v", format, err)
		}
		again, _, err := DecodeBytes(buf.Bytes(), Limits{})
		if err != nil {
			t.Fatalf("DecodeBytes(Encode(decoded %s, png)) error: %v", format, err)
		}
		if again.Bounds().Size() != b.Size() {
			t.Fatalf("PNG round trip of decoded %s: bounds %v, want size %v", format, again.Bounds(), b.Size())
		}
	})
}
