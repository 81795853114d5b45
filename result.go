package upscaler

import (
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"math"
	"path/filepath"

	"github.com/upscaler-go/upscaler/internal/imageio"
	"github.com/upscaler-go/upscaler/tensor"
)

// Result is the output of one Upscale call.
type Result struct {
	// Tensor is the colour output, shape [h·s, w·s, 3], values clipped to
	// 0..255 and not rounded.
	Tensor *tensor.Tensor
	// Alpha is the enlarged alpha plane, shape [h·s, w·s, 1], 0..255, or
	// nil when the input was opaque.
	Alpha *tensor.Tensor
}

// Image returns the result as an 8-bit image, values rounded. It is opaque
// (and encodes as RGB) when the input had no transparency.
func (r *Result) Image() *image.NRGBA { return toImage(r.Tensor, r.Alpha) }

func toImage(rgb, alpha *tensor.Tensor) *image.NRGBA {
	h, w := rgb.Shape[0], rgb.Shape[1]
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range h * w {
		for c := range 3 {
			img.Pix[i*4+c] = toUint8(rgb.Data[i*3+c])
		}
		img.Pix[i*4+3] = 255
		if alpha != nil {
			img.Pix[i*4+3] = toUint8(alpha.Data[i])
		}
	}
	return img
}

func toUint8(v float32) uint8 {
	return uint8(math.Round(float64(min(max(v, 0), 255))))
}

// Format is an output image format.
type Format string

// Output formats.
const (
	PNG  Format = "png"
	JPEG Format = "jpeg"
	WebP Format = "webp"
)

// WriteOptions tunes WriteFile and Encode. A nil *WriteOptions means PNG
// (or the format of the file's extension) at default quality, and no
// overwriting.
type WriteOptions struct {
	// Format, when set, overrides the file extension.
	Format Format
	// Quality is 1..100 for JPEG and WebP; 0 means 90.
	Quality int
	// Overwrite allows replacing an existing file.
	Overwrite bool
}

// FormatFromPath returns the format of a file name's extension: .png,
// .jpg/.jpeg or .webp.
func FormatFromPath(path string) (Format, error) {
	f, err := imageio.FormatFromPath(path)
	if err != nil {
		return "", err
	}
	switch Format(f) {
	case PNG, JPEG, WebP:
		return Format(f), nil
	}
	return "", fmt.Errorf("upscaler: cannot write %s: output formats are png, jpeg and webp", filepath.Ext(path))
}

// Encode writes the result as an image in format f to w.
func (r *Result) Encode(w io.Writer, f Format, quality int) error {
	return imageio.Encode(w, r.Image(), imageio.Format(f), quality)
}

// WriteFile writes the result to path. The file is written to a temporary
// name in the same folder and renamed into place, so it is never left half
// written.
func (r *Result) WriteFile(path string, opts *WriteOptions) error {
	if opts == nil {
		opts = &WriteOptions{}
	}
	return writeError(path, imageio.WriteFile(path, r.Image(), imageio.Format(opts.format(path)), opts.Quality, opts.Overwrite))
}

// writeError words an existing destination for callers of this package,
// who set WriteOptions.Overwrite to replace it.
func writeError(path string, err error) error {
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("upscaler: %s already exists: set WriteOptions.Overwrite to replace it: %w", path, fs.ErrExist)
	}
	return err
}

// format returns the format to write path in: Format when set, else the
// one of path's extension, else PNG.
func (o *WriteOptions) format(path string) Format {
	if o.Format != "" {
		return o.Format
	}
	if f, err := FormatFromPath(path); err == nil {
		return f
	}
	return PNG
}

// DataURI returns the result as a base64 PNG data: URI.
func (r *Result) DataURI() (string, error) { return imageio.DataURI(r.Image()) }
