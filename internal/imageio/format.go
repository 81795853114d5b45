package imageio

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
)

// Format names an image file format. Its value is the lowercase short name
// used in messages and command-line flags.
type Format string

// Formats that Decode reads and Encode writes.
const (
	PNG  Format = "png"
	JPEG Format = "jpeg"
	GIF  Format = "gif"
	WebP Format = "webp"
	BMP  Format = "bmp"
	TIFF Format = "tiff"
)

// formats lists every supported format in the order used in messages.
var formats = []Format{PNG, JPEG, GIF, WebP, BMP, TIFF}

// extensions maps lowercase file name extensions to formats.
var extensions = map[string]Format{
	".png":  PNG,
	".jpg":  JPEG,
	".jpeg": JPEG,
	".gif":  GIF,
	".webp": WebP,
	".bmp":  BMP,
	".tif":  TIFF,
	".tiff": TIFF,
}

// supportedExtensions is the list printed when an extension is unknown.
const supportedExtensions = ".png, .jpg, .jpeg, .gif, .webp, .bmp, .tif, .tiff"

// FormatFromPath returns the format named by the extension of path, compared
// without regard to case. An unknown or missing extension is an error that
// wraps ErrFormat and lists the supported extensions.
func FormatFromPath(path string) (Format, error) {
	ext := filepath.Ext(path)
	if f, ok := extensions[strings.ToLower(ext)]; ok {
		return f, nil
	}
	if ext == "" {
		return "", fmt.Errorf("imageio: %q has no file extension to choose an image format from: %w (use one of %s)",
			path, ErrFormat, supportedExtensions)
	}
	return "", fmt.Errorf("imageio: file extension %q of %q: %w (use one of %s)",
		ext, path, ErrFormat, supportedExtensions)
}

// MIMEType returns the media type of f, such as "image/png", or "" when f is
// not one of the supported formats.
func (f Format) MIMEType() string {
	switch f {
	case PNG, JPEG, GIF, WebP, BMP, TIFF:
		return "image/" + string(f)
	}
	return ""
}

// valid reports whether f is one of the supported formats.
func (f Format) valid() bool {
	for _, g := range formats {
		if f == g {
			return true
		}
	}
	return false
}

// mimeFormats maps image media types, including common unregistered
// variants, to formats.
var mimeFormats = map[string]Format{
	"image/png":      PNG,
	"image/apng":     PNG,
	"image/jpeg":     JPEG,
	"image/jpg":      JPEG,
	"image/pjpeg":    JPEG,
	"image/gif":      GIF,
	"image/webp":     WebP,
	"image/bmp":      BMP,
	"image/x-bmp":    BMP,
	"image/x-ms-bmp": BMP,
	"image/tiff":     TIFF,
	"image/tiff-fx":  TIFF,
}

// sniffLen is the number of leading bytes sniff needs to see.
const sniffLen = 12

// sniff identifies the format of data from its signature (magic bytes).
// It reports false when no supported signature matches.
func sniff(data []byte) (Format, bool) {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return PNG, true
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}):
		return JPEG, true
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		return GIF, true
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return WebP, true
	case bytes.HasPrefix(data, []byte("BM")):
		return BMP, true
	case bytes.HasPrefix(data, []byte("II*\x00")), bytes.HasPrefix(data, []byte("MM\x00*")):
		return TIFF, true
	}
	return "", false
}

// describeUnknown explains why sniff found no format, naming the leading
// bytes and, for near misses, the unsupported variant.
func describeUnknown(data []byte) string {
	switch {
	case len(data) == 0:
		return "input is empty"
	case bytes.HasPrefix(data, []byte("II+\x00")), bytes.HasPrefix(data, []byte("MM\x00+")):
		return "BigTIFF files are not supported, save the image as classic TIFF"
	case len(data) >= 4 && string(data[:4]) == "RIFF":
		return "RIFF file is not WebP"
	}
	head := data
	if len(head) > sniffLen {
		head = head[:sniffLen]
	}
	return fmt.Sprintf("unrecognised signature % x, expected PNG, JPEG, GIF, WebP, BMP or TIFF data", head)
}
