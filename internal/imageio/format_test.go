package imageio

import (
	"errors"
	"strings"
	"testing"
)

func TestFormatFromPath(t *testing.T) {
	tests := []struct {
		path string
		want Format
	}{
		{"a.png", PNG},
		{"dir.v2/a.PNG", PNG},
		{"a.jpg", JPEG},
		{"a.JPeG", JPEG},
		{"/x/y/photo.jpeg", JPEG},
		{"a.gif", GIF},
		{"a.webp", WebP},
		{"a.WEBP", WebP},
		{"a.bmp", BMP},
		{"a.tif", TIFF},
		{"a.tiff", TIFF},
		{"archive.tar.png", PNG},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, err := FormatFromPath(tt.path)
			if err != nil {
				t.Fatalf("FormatFromPath(%q) error: %v", tt.path, err)
			}
			if got != tt.want {
				t.Errorf("FormatFromPath(%q) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

func TestFormatFromPathUnknown(t *testing.T) {
	for _, path := range []string{"a.heic", "a.png.bak", "noext", "dir.png/file", "a."} {
		t.Run(path, func(t *testing.T) {
			got, err := FormatFromPath(path)
			if err == nil {
				t.Fatalf("FormatFromPath(%q) = %q, want error", path, got)
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("FormatFromPath(%q) error %v does not wrap ErrFormat", path, err)
			}
			// The message must list what is supported so the user can fix it.
			if !strings.Contains(err.Error(), ".webp") || !strings.Contains(err.Error(), path) {
				t.Errorf("FormatFromPath(%q) error %q does not name the path and the supported extensions", path, err)
			}
		})
	}
}

func TestFormatMIMEType(t *testing.T) {
	tests := []struct {
		f    Format
		want string
	}{
		{PNG, "image/png"},
		{JPEG, "image/jpeg"},
		{GIF, "image/gif"},
		{WebP, "image/webp"},
		{BMP, "image/bmp"},
		{TIFF, "image/tiff"},
		{"heic", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := tt.f.MIMEType(); got != tt.want {
			t.Errorf("Format(%q).MIMEType() = %q, want %q", tt.f, got, tt.want)
		}
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		name   string
		data   string
		want   Format
		wantOK bool
	}{
		{"png", "\x89PNG\r\n\x1a\n....", PNG, true},
		{"jpeg", "\xff\xd8\xff\xe0", JPEG, true},
		{"gif87a", "GIF87a", GIF, true},
		{"gif89a", "GIF89a", GIF, true},
		{"webp", "RIFF\x00\x00\x00\x00WEBPVP8 ", WebP, true},
		{"bmp", "BM\x00\x00", BMP, true},
		{"tiff little-endian", "II*\x00\x08\x00\x00\x00", TIFF, true},
		{"tiff big-endian", "MM\x00*\x00\x00\x00\x08", TIFF, true},
		{"bigtiff", "II+\x00\x08\x00\x00\x00", "", false},
		{"riff avi", "RIFF\x00\x00\x00\x00AVI LIST", "", false},
		{"riff short", "RIFF\x00\x00\x00\x00WEB", "", false},
		{"png signature cut", "\x89PNG\r\n", "", false},
		{"text", "hello, world", "", false},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := sniff([]byte(tt.data))
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("sniff(%q) = %q, %v, want %q, %v", tt.data, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
