package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"math/big"
	"os"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// Sentinel errors for errors.Is. Every error that the Decode functions return
// for bad image data wraps exactly one of them. Errors from the reader or the
// file system and errors for invalid Limits wrap none.
var (
	// ErrTooLarge is wrapped by errors for images whose declared width ×
	// height exceeds Limits.MaxPixels and for input longer than
	// Limits.MaxBytes.
	ErrTooLarge = errors.New("image too large")

	// ErrFormat is wrapped by errors for data in no supported format, for
	// supported formats that use an unsupported feature (for example a JPEG
	// with 12-bit samples or a BigTIFF file), and for unknown format names
	// and file extensions.
	ErrFormat = errors.New("unsupported image format")

	// ErrCorrupt is wrapped by errors for data that starts like a supported
	// format but is malformed or truncated.
	ErrCorrupt = errors.New("invalid image data")
)

// LimitError is the error for input over one of the Limits. It wraps
// ErrTooLarge, and its message ends with advice to raise the limit. A
// program that sets the limit from its own settings can build its own
// message from the fields.
type LimitError struct {
	// Limit names the field of Limits that the input exceeds: "MaxBytes"
	// or "MaxPixels".
	Limit string
	// Detail describes the input and the limit, such as "declared size
	// 100000x100000 is 10000000000 pixels, over the limit of 100000000".
	Detail string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%v: %s (raise Limits.%s)", ErrTooLarge, e.Detail, e.Limit)
}

// Unwrap returns ErrTooLarge.
func (e *LimitError) Unwrap() error { return ErrTooLarge }

// overBytes returns the error for input over lim.MaxBytes.
func overBytes(format string, args ...any) *LimitError {
	return &LimitError{Limit: "MaxBytes", Detail: fmt.Sprintf(format, args...)}
}

// Limits bounds the resources Decode spends on one image. A zero field
// selects the value from DefaultLimits, and a negative field is an error.
type Limits struct {
	// MaxPixels is the largest width × height accepted. It is checked
	// against the size the file declares, before any pixel data is decoded.
	MaxPixels int64

	// MaxBytes is the largest encoded input accepted, in bytes. Decode
	// holds the whole input in memory, so this also bounds that buffer.
	MaxBytes int64
}

// DefaultLimits are the limits used for zero Limits fields.
//
// MaxPixels is 100 million pixels (for example 10000×10000). Decoded as
// 8-bit RGBA such an image takes 400 MB, and 16-bit formats take twice that.
// The upscaler then needs float32 tensors and an output several times
// larger, so it is better to reject larger inputs before any work starts.
//
// MaxBytes is 256 MiB. Compressed PNG, JPEG, WebP and GIF files of 100
// million pixels are far smaller than that. Uncompressed BMP and TIFF files
// at 3 bytes per pixel fit up to about 89 million pixels, so decoding larger
// uncompressed files needs a higher MaxBytes.
//
// DefaultLimits is read on every call, so changing it changes the defaults
// of later calls. It must not be changed while decodes run.
var DefaultLimits = Limits{
	MaxPixels: 100_000_000,
	MaxBytes:  256 << 20,
}

// resolve replaces zero fields with defaults and rejects negative ones.
func (l Limits) resolve() (Limits, error) {
	if l.MaxPixels < 0 {
		return l, fmt.Errorf("Limits.MaxPixels is %d, use a positive pixel count or 0 for the default of %d",
			l.MaxPixels, DefaultLimits.MaxPixels)
	}
	if l.MaxBytes < 0 {
		return l, fmt.Errorf("Limits.MaxBytes is %d, use a positive byte count or 0 for the default of %d",
			l.MaxBytes, DefaultLimits.MaxBytes)
	}
	if l.MaxPixels == 0 {
		l.MaxPixels = DefaultLimits.MaxPixels
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	return l, nil
}

// Decode reads an image from r and returns it with its format.
//
// Decode reads at most lim.MaxBytes+1 bytes into memory and fails with
// ErrTooLarge if r has more. It detects the format from the leading bytes,
// ignoring any file name or media type. It then reads the header and fails
// with ErrTooLarge if the declared width × height exceeds lim.MaxPixels,
// before the decoder allocates pixel memory.
//
// Format notes:
//   - JPEG: baseline and progressive, grayscale, YCbCr, CMYK and YCCK. The
//     EXIF orientation tag is applied, so the returned image is upright and
//     its bounds are swapped for the four orientations that turn it by 90°.
//   - GIF: only the first frame. A frame smaller than the logical screen is
//     placed on a transparent canvas of the screen size.
//   - WebP: lossy, lossless and with alpha. Animated WebP fails with
//     ErrFormat.
//   - BMP and TIFF: as far as golang.org/x/image/bmp and tiff support them.
//
// Orientation metadata is applied only for JPEG. Decode is safe for
// concurrent use.
func Decode(r io.Reader, lim Limits) (image.Image, Format, error) {
	lim, err := lim.resolve()
	if err != nil {
		return nil, "", fmt.Errorf("imageio: decode: %w", err)
	}

	readLimit := lim.MaxBytes
	if readLimit < math.MaxInt64 {
		readLimit++ // one byte more than allowed shows that the input is too long
	}
	data, err := io.ReadAll(io.LimitReader(r, readLimit))
	if err != nil {
		return nil, "", fmt.Errorf("imageio: decode: read input: %w", err)
	}

	img, f, err := decodeData(data, lim)
	if err != nil {
		return nil, "", fmt.Errorf("imageio: decode: %w", err)
	}
	return img, f, nil
}

// DecodeBytes decodes an image held in data, as Decode does. It does not
// modify data, and the returned image does not alias it.
func DecodeBytes(data []byte, lim Limits) (image.Image, Format, error) {
	lim, err := lim.resolve()
	if err != nil {
		return nil, "", fmt.Errorf("imageio: decode: %w", err)
	}
	img, f, err := decodeData(data, lim)
	if err != nil {
		return nil, "", fmt.Errorf("imageio: decode: %w", err)
	}
	return img, f, nil
}

// DecodeFile decodes the image file at path, as Decode does. The format is
// taken from the content, not from the file name. Errors name the path.
func DecodeFile(path string, lim Limits) (image.Image, Format, error) {
	lim, err := lim.resolve()
	if err != nil {
		return nil, "", fmt.Errorf("imageio: decode %q: %w", path, err)
	}

	file, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("imageio: decode: %w", err)
	}
	defer file.Close()

	// Check the size first so that an oversized file is not read at all.
	// The read below still enforces the limit for files that grow or that
	// report no size, such as pipes.
	if info, err := file.Stat(); err == nil && info.Mode().IsRegular() && info.Size() > lim.MaxBytes {
		return nil, "", fmt.Errorf("imageio: decode %q: %w", path,
			overBytes("file is %d bytes, over the limit of %d", info.Size(), lim.MaxBytes))
	}

	readLimit := lim.MaxBytes
	if readLimit < math.MaxInt64 {
		readLimit++
	}
	data, err := io.ReadAll(io.LimitReader(file, readLimit))
	if err != nil {
		return nil, "", fmt.Errorf("imageio: decode %q: %w", path, err)
	}

	img, f, err := decodeData(data, lim)
	if err != nil {
		return nil, "", fmt.Errorf("imageio: decode %q: %w", path, err)
	}
	return img, f, nil
}

// decodeData decodes a complete encoded image after checking it against lim,
// which must be resolved. Its errors carry no package prefix.
func decodeData(data []byte, lim Limits) (image.Image, Format, error) {
	// Step 1: the input length.
	if int64(len(data)) > lim.MaxBytes {
		return nil, "", overBytes("input is over the limit of %d bytes", lim.MaxBytes)
	}

	// Step 2: the format, from the signature.
	f, ok := sniff(data)
	if !ok {
		return nil, "", fmt.Errorf("%w: %s", ErrFormat, describeUnknown(data))
	}

	if f == WebP && isAnimatedWebP(data) {
		return nil, "", fmt.Errorf("%s: %w: animated WebP is not supported, extract one frame first", f, ErrFormat)
	}

	// Step 3: the declared size, before any pixel memory is allocated.
	// image/png rejects sizes whose byte count overflows an int as an
	// unsupported feature, so read the PNG size first to report those as
	// too large.
	if w, h, ok := pngSize(data); ok && w > 0 && h > 0 {
		if err := checkSize(f, int(w), int(h), lim.MaxPixels); err != nil {
			return nil, "", err
		}
	}
	var cfg image.Config
	err := recoverPanic(func() (err error) {
		cfg, err = decodeConfig(f, data)
		return err
	})
	if err != nil {
		return nil, "", classify(f, err)
	}
	if err := checkSize(f, cfg.Width, cfg.Height, lim.MaxPixels); err != nil {
		return nil, "", err
	}

	// Step 4: the pixels.
	var img image.Image
	err = recoverPanic(func() (err error) {
		img, err = decodeImage(f, data)
		return err
	})
	if err != nil {
		return nil, "", classify(f, err)
	}
	if img == nil || img.Bounds().Empty() {
		return nil, "", fmt.Errorf("%s: %w: decoder returned no pixels", f, ErrCorrupt)
	}

	// Step 5: format-specific fix-ups.
	switch f {
	case JPEG:
		img = orient(img, jpegOrientation(data))
	case GIF:
		img = placeOnScreen(img, cfg.Width, cfg.Height)
	}
	return img, f, nil
}

// decodeConfig reads the header of data, which is in format f.
func decodeConfig(f Format, data []byte) (image.Config, error) {
	r := bytes.NewReader(data)
	switch f {
	case PNG:
		return png.DecodeConfig(r)
	case JPEG:
		return jpeg.DecodeConfig(r)
	case GIF:
		return gif.DecodeConfig(r)
	case WebP:
		return webp.DecodeConfig(r)
	case BMP:
		return bmp.DecodeConfig(r)
	case TIFF:
		return tiff.DecodeConfig(r)
	}
	return image.Config{}, fmt.Errorf("no decoder for format %q", f)
}

// decodeImage decodes data, which is in format f. For GIF it returns the
// first frame.
func decodeImage(f Format, data []byte) (image.Image, error) {
	r := bytes.NewReader(data)
	switch f {
	case PNG:
		return png.Decode(r)
	case JPEG:
		return jpeg.Decode(r)
	case GIF:
		return gif.Decode(r)
	case WebP:
		return webp.Decode(r)
	case BMP:
		return bmp.Decode(r)
	case TIFF:
		return tiff.Decode(r)
	}
	return nil, fmt.Errorf("no decoder for format %q", f)
}

// checkSize rejects sizes with no pixels and sizes over maxPixels.
func checkSize(f Format, width, height int, maxPixels int64) error {
	if width <= 0 || height <= 0 {
		return fmt.Errorf("%s: %w: declared size %dx%d has no pixels", f, ErrCorrupt, width, height)
	}
	// width × height > maxPixels, written so that it cannot overflow.
	if int64(width) > maxPixels/int64(height) {
		pixels := new(big.Int).Mul(big.NewInt(int64(width)), big.NewInt(int64(height)))
		return fmt.Errorf("%s: %w", f, &LimitError{Limit: "MaxPixels",
			Detail: fmt.Sprintf("declared size %dx%d is %s pixels, over the limit of %d", width, height, pixels, maxPixels)})
	}
	return nil
}

// classify wraps a decoder error with ErrFormat or ErrCorrupt.
func classify(f Format, err error) error {
	var (
		pngUnsupported  png.UnsupportedError
		jpegUnsupported jpeg.UnsupportedError
		tiffUnsupported tiff.UnsupportedError
	)
	switch {
	case errors.As(err, &pngUnsupported), errors.As(err, &jpegUnsupported),
		errors.As(err, &tiffUnsupported), errors.Is(err, bmp.ErrUnsupported):
		return fmt.Errorf("%s: %w: %w", f, ErrFormat, err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s: %w: data ends early, the file may be truncated: %w", f, ErrCorrupt, err)
	}
	return fmt.Errorf("%s: %w: %w", f, ErrCorrupt, err)
}

// recoverPanic runs fn and turns a panic into an error, so that a decoder
// bug triggered by hostile input fails one call instead of the process.
func recoverPanic(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("decoder panicked: %v", p)
		}
	}()
	return fn()
}

// placeOnScreen returns frame unchanged when it covers the logical screen
// (0, 0)-(width, height). Otherwise it draws frame onto a transparent canvas
// of that size, which is how viewers show a first GIF frame that is smaller
// than the screen.
func placeOnScreen(frame image.Image, width, height int) image.Image {
	screen := image.Rect(0, 0, width, height)
	if frame.Bounds() == screen {
		return frame
	}
	canvas := image.NewNRGBA(screen)
	draw.Draw(canvas, frame.Bounds(), frame, frame.Bounds().Min, draw.Src)
	return canvas
}

// isAnimatedWebP reports whether data, a RIFF WebP file, starts with a VP8X
// chunk whose animation flag is set. The flags byte follows the 12-byte RIFF
// header and the 8-byte chunk header, and bit 1 marks animation.
func isAnimatedWebP(data []byte) bool {
	return len(data) > 20 && string(data[12:16]) == "VP8X" && data[20]&0x02 != 0
}

// pngSize returns the width and height from the IHDR chunk of a PNG file,
// which must directly follow the 8-byte signature and its own 8-byte chunk
// header.
func pngSize(data []byte) (width, height uint32, ok bool) {
	if len(data) < 24 || string(data[:8]) != "\x89PNG\r\n\x1a\n" || string(data[12:16]) != "IHDR" {
		return 0, 0, false
	}
	return binary.BigEndian.Uint32(data[16:]), binary.BigEndian.Uint32(data[20:]), true
}
