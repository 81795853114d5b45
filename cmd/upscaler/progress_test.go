package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"

	"github.com/upscaler-go/upscaler"
)

// TestBarReporter draws the terminal bars into a buffer. mpb renders to a
// writer that is not a terminal only with auto refresh on.
func TestBarReporter(t *testing.T) {
	var buf bytes.Buffer
	r := newBarReporter(&buf, 2, mpb.WithAutoRefresh())

	r.start(1, 2, "a.png", 64, 64)
	for i := range 4 {
		r.patch(upscaler.Progress{Index: i, Count: 4, Fraction: float64(i+1) / 4})
		time.Sleep(20 * time.Millisecond)
	}
	r.done("a@2x.png", 128, 128, time.Second, nil)
	r.start(2, 2, "b.png", 8, 8)
	r.printf("upscaler: %s: %v", "b.png", errors.New("invalid image data"))
	r.done("", 0, 0, 0, errors.New("invalid image data"))
	r.finish()
	r.finish() // a second call, as the deferred one, must not block

	out := buf.String()
	for _, want := range []string{"a.png", "/4 patches", "2/2 images", "upscaler: b.png: invalid image data", "ETA"} {
		if !strings.Contains(out, want) {
			t.Errorf("bar output lacks %q:\n%s", want, out)
		}
	}
}

func TestOutputName(t *testing.T) {
	tests := []struct {
		input  string
		scale  int
		format upscaler.Format
		want   string
	}{
		{"photo.jpg", 2, "", "photo@2x.jpg"},
		{"dir/photo.JPEG", 4, "", "photo@4x.JPEG"},
		{"scan.tiff", 2, "", "scan@2x.png"},
		{"photo.png", 3, upscaler.JPEG, "photo@3x.jpg"},
		{"photo.png", 8, upscaler.WebP, "photo@8x.webp"},
		{"noext", 2, "", "noext@2x.png"},
		{"-", 2, "", "stdin@2x.png"},
	}
	for _, tt := range tests {
		if got := outputName(tt.input, tt.scale, tt.format); got != tt.want {
			t.Errorf("outputName(%q, %d, %q) = %q, want %q", tt.input, tt.scale, tt.format, got, tt.want)
		}
	}
}
