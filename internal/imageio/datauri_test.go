package imageio

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestDecodeDataURI(t *testing.T) {
	png := encodeWith(t, PNG, quadrants(8, 6))
	jpeg := encodeWith(t, JPEG, quadrants(8, 6))
	std := base64.StdEncoding.EncodeToString(png)

	// Wrap the base64 text at 20 characters, as some tools do.
	var wrapped strings.Builder
	for i := 0; i < len(std); i += 20 {
		wrapped.WriteString(std[i:min(i+20, len(std))])
		wrapped.WriteString("\r\n")
	}

	tests := []struct {
		name   string
		uri    string
		format Format
	}{
		{"png", "data:image/png;base64," + std, PNG},
		{"jpeg", "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(jpeg), JPEG},
		{"no media type", "data:;base64," + std, PNG},
		{"upper case", "DATA:IMAGE/PNG;BASE64," + std, PNG},
		{"parameter", "data:image/png;name=a.png;base64," + std, PNG},
		{"unpadded", "data:image/png;base64," + base64.RawStdEncoding.EncodeToString(png), PNG},
		{"url-safe", "data:image/png;base64," + base64.RawURLEncoding.EncodeToString(png), PNG},
		{"line breaks", "data:image/png;base64," + wrapped.String(), PNG},
		{"percent-encoded", "data:image/png;base64," + strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(std), PNG},
		{"surrounding space", "  data:image/png;base64," + std + "\n", PNG},
		// The content decides; a wrong image media type is tolerated.
		{"mismatched type", "data:image/jpeg;base64," + std, PNG},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, f, err := DecodeDataURI(tt.uri, Limits{})
			if err != nil {
				t.Fatalf("DecodeDataURI(%s) error: %v", tt.name, err)
			}
			if f != tt.format {
				t.Errorf("DecodeDataURI(%s) format = %q, want %q", tt.name, f, tt.format)
			}
			checkCorners(t, "DecodeDataURI("+tt.name+")", img, quadrantColors, 8)
		})
	}
}

func TestDecodeDataURIErrors(t *testing.T) {
	png := encodeWith(t, PNG, quadrants(8, 6))
	std := base64.StdEncoding.EncodeToString(png)

	tests := []struct {
		name string
		uri  string
		lim  Limits
		want error // a sentinel, or nil when only a plain error is expected
	}{
		{"plain base64", std, Limits{}, nil},
		{"http url", "https://example.com/a.png", Limits{}, nil},
		{"no comma", "data:image/png;base64", Limits{}, nil},
		{"not base64", "data:image/png," + string(png[:16]), Limits{}, nil},
		{"url-encoded text", "data:image/svg+xml,%3Csvg%3E", Limits{}, nil},
		{"empty data", "data:image/png;base64,", Limits{}, nil},
		{"bad base64", "data:image/png;base64,iVBOR*w0KGgo", Limits{}, nil},
		{"bad percent", "data:image/png;base64,iVBOR%zz", Limits{}, nil},
		{"text type", "data:text/plain;base64," + std, Limits{}, ErrFormat},
		{"avif type", "data:image/avif;base64," + std, Limits{}, ErrFormat},
		{"text content", "data:image/png;base64," + base64.StdEncoding.EncodeToString([]byte("hello, world")), Limits{}, ErrFormat},
		{"truncated", "data:image/png;base64," + std[:len(std)/2], Limits{}, ErrCorrupt},
		{"over byte limit", "data:image/png;base64," + std, Limits{MaxBytes: int64(len(png)) - 10}, ErrTooLarge},
		{"over pixel limit", "data:image/png;base64," + std, Limits{MaxPixels: 47}, ErrTooLarge},
		{"far over byte limit", "data:image/png;base64," + strings.Repeat("A", 10000), Limits{MaxBytes: 100}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, _, err := DecodeDataURI(tt.uri, tt.lim)
			if err == nil {
				t.Fatalf("DecodeDataURI(%s) = image %v, want error", tt.name, img.Bounds())
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("DecodeDataURI(%s) error = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
}

func TestDecodeDataURINotBase64Message(t *testing.T) {
	_, _, err := DecodeDataURI("data:image/png,abc", Limits{})
	if err == nil || !strings.Contains(err.Error(), "base64") {
		t.Errorf("DecodeDataURI(data:image/png,abc) error = %v, want a message about base64", err)
	}
}

func TestDataURIRoundTrip(t *testing.T) {
	src := quadrants(10, 6)
	uri, err := DataURI(src)
	if err != nil {
		t.Fatalf("DataURI error: %v", err)
	}
	if !strings.HasPrefix(uri, "data:image/png;base64,") {
		t.Errorf("DataURI = %.40q..., want prefix %q", uri, "data:image/png;base64,")
	}
	img, f, err := DecodeDataURI(uri, Limits{})
	if err != nil {
		t.Fatalf("DecodeDataURI(DataURI(img)) error: %v", err)
	}
	if f != PNG {
		t.Errorf("DecodeDataURI(DataURI(img)) format = %q, want %q", f, PNG)
	}
	checkCorners(t, "DecodeDataURI(DataURI(img))", img, quadrantColors, 0)
}

func TestDataURIErrors(t *testing.T) {
	if _, err := DataURI(nil); err == nil {
		t.Error("DataURI(nil) succeeded, want error")
	}
	if _, err := DataURI(quadrants(0, 0)); err == nil {
		t.Error("DataURI(0x0 image) succeeded, want error")
	}
}

func TestDecodeDataURIAtByteLimit(t *testing.T) {
	// Whitespace and percent-encoding make the text longer than plain
	// base64, but only the decoded bytes count against MaxBytes.
	png := encodeWith(t, PNG, quadrants(8, 6))
	std := base64.StdEncoding.EncodeToString(png)
	escaped := strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D", "A", "A\n").Replace(std)
	lim := Limits{MaxBytes: int64(len(png))}
	if _, _, err := DecodeDataURI("data:image/png;base64,"+escaped, lim); err != nil {
		t.Errorf("DecodeDataURI(%d bytes, escaped, MaxBytes %d) error: %v", len(png), lim.MaxBytes, err)
	}
	lim.MaxBytes--
	if _, _, err := DecodeDataURI("data:image/png;base64,"+escaped, lim); !errors.Is(err, ErrTooLarge) {
		t.Errorf("DecodeDataURI(%d bytes, escaped, MaxBytes %d) error = %v, want ErrTooLarge", len(png), lim.MaxBytes, err)
	}
}
