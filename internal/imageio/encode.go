package imageio

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"github.com/gen2brain/webp"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// DefaultQuality is the quality Encode uses for JPEG and WebP when it is
// given 0. For WebP it selects lossy encoding.
const DefaultQuality = 90

// Encode writes img to w in format f.
//
// quality must be 0 (the default, DefaultQuality) or 1 to 100, for every
// format, and is used as follows:
//   - PNG: ignored. PNG is lossless and keeps alpha and 16-bit samples.
//   - JPEG: the quality of image/jpeg, 1 (smallest) to 100 (best, still
//     lossy). JPEG has no alpha channel, so alpha is dropped: each pixel
//     keeps its colour as it would be without transparency (the
//     non-premultiplied value). A fully transparent pixel of a premultiplied
//     image such as *image.RGBA has no colour left and becomes black.
//   - WebP: 1 to 99 encodes lossy WebP (VP8, with a lossless alpha plane
//     when the image has transparency) at that libwebp quality. 100 encodes
//     lossless WebP (VP8L), which keeps every pixel exactly, including the
//     colour of fully transparent pixels. So unlike JPEG, quality 100 is
//     lossless.
//   - GIF: ignored. An *image.Paletted of up to 256 colours is stored as
//     is. Other images are reduced to the 256-colour Plan 9 palette with
//     Floyd–Steinberg dithering, as image/gif does, and lose transparency.
//   - BMP: ignored. Alpha is dropped as for JPEG, because readers
//     (golang.org/x/image/bmp among them) ignore the alpha byte of the
//     32-bit BMP variant that can be written without colour masks.
//   - TIFF: ignored. Deflate compression with the horizontal predictor.
//
// WebP encoding uses github.com/gen2brain/webp v0.5.5, which runs libwebp
// compiled to WebAssembly in the wazero runtime, so it needs no cgo. It adds
// about 5.8 MB to a binary, and the first WebP encode in a process compiles
// the module, which took about 0.5 s on a 2-core AMD EPYC machine. There,
// BenchmarkEncode measured 55 ms (quality 90) and 275 ms (quality 100) for a
// 256×256 image, about 5 and 8 times the time the system libwebp takes.
//
// NOTE: That package also tries to load the system's libwebp.so and
// libwebpdemux.so at start-up through purego, and uses them when found.
// Importing purego makes even CGO_ENABLED=0 Linux binaries dynamically
// linked against the C library, so they do not run in images without one
// (FROM scratch, for example). Build with -tags nodynamic to get a static
// binary that always uses the WebAssembly copy.
//
// Encode is safe for concurrent use.
func Encode(w io.Writer, img image.Image, f Format, quality int) error {
	if err := checkEncode(img, f, quality); err != nil {
		return fmt.Errorf("imageio: %w", err)
	}
	if err := encode(w, img, f, quality); err != nil {
		return fmt.Errorf("imageio: %w", err)
	}
	return nil
}

// checkEncode validates the arguments of Encode. Its errors start with
// "encode" and carry no package prefix.
func checkEncode(img image.Image, f Format, quality int) error {
	if !f.valid() {
		return fmt.Errorf("encode: %w: format %q is not one of png, jpeg, gif, webp, bmp, tiff", ErrFormat, string(f))
	}
	if quality < 0 || quality > 100 {
		return fmt.Errorf("encode %s: quality %d is out of range, use 1 to 100 or 0 for the default of %d",
			f, quality, DefaultQuality)
	}
	if img == nil {
		return fmt.Errorf("encode %s: image is nil", f)
	}
	b := img.Bounds()
	if b.Empty() {
		return fmt.Errorf("encode %s: image bounds %v contain no pixels", f, b)
	}
	if f == WebP && (b.Dx() > maxWebPSide || b.Dy() > maxWebPSide) {
		return fmt.Errorf("encode %s: image is %dx%d, but WebP stores at most %d pixels per side, use PNG or TIFF instead",
			f, b.Dx(), b.Dy(), maxWebPSide)
	}
	return nil
}

// maxWebPSide is the largest width or height of a lossy WebP image, whose
// VP8 frame header stores each dimension in 14 bits. Lossless WebP allows
// one pixel more, but one limit for both keeps the rule simple.
const maxWebPSide = 16383

// encode writes img after checkEncode accepted the arguments. Its errors
// start with "encode" and carry no package prefix.
func encode(w io.Writer, img image.Image, f Format, quality int) error {
	if quality == 0 {
		quality = DefaultQuality
	}

	var err error
	switch f {
	case PNG:
		err = png.Encode(w, img)
	case JPEG:
		err = jpeg.Encode(w, dropAlpha(img), &jpeg.Options{Quality: quality})
	case WebP:
		opts := webp.Options{Quality: quality, Method: webp.DefaultMethod}
		if quality == 100 {
			opts.Lossless = true
			opts.Exact = true
		}
		// With the system libwebp the encoder replaces writer errors with
		// its own, so encode into a buffer and copy that to keep them.
		var buf bytes.Buffer
		if err = webp.Encode(&buf, compactNRGBA(img), opts); err == nil {
			_, err = buf.WriteTo(w)
		}
	case GIF:
		err = gif.Encode(w, img, nil)
	case BMP:
		err = bmp.Encode(w, dropAlpha(img))
	case TIFF:
		err = tiff.Encode(w, img, &tiff.Options{Compression: tiff.Deflate, Predictor: true})
	default:
		err = fmt.Errorf("%w: format %q is not one of png, jpeg, gif, webp, bmp, tiff", ErrFormat, string(f))
	}
	if err != nil {
		return fmt.Errorf("encode %s: %w", f, err)
	}
	return nil
}

// dropAlpha returns img itself when it is opaque, and otherwise an opaque
// *image.RGBA copy whose pixels keep their non-premultiplied colour.
func dropAlpha(img image.Image) image.Image {
	if !HasAlpha(img) {
		return img
	}
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))

	if src, ok := img.(*image.NRGBA); ok {
		// The colour bytes of NRGBA are already non-premultiplied.
		for y := 0; y < b.Dy(); y++ {
			s := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):]
			d := out.Pix[y*out.Stride : y*out.Stride+4*b.Dx()]
			for i := 0; i < len(d); i += 4 {
				d[i], d[i+1], d[i+2], d[i+3] = s[i], s[i+1], s[i+2], 0xFF
			}
		}
		return out
	}

	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			c.A = 0xFF
			out.Set(x-b.Min.X, y-b.Min.Y, c)
		}
	}
	return out
}

// compactNRGBA returns img as an *image.NRGBA whose bounds start at (0, 0)
// and whose rows are adjacent in Pix, copying it unless it already is one.
// The WebP encoder reads Pix as a packed, non-premultiplied RGBA buffer, so
// sub-images and premultiplied *image.RGBA must be converted first.
func compactNRGBA(img image.Image) *image.NRGBA {
	b := img.Bounds()
	if m, ok := img.(*image.NRGBA); ok && b.Min == (image.Point{}) && m.Stride == 4*b.Dx() && len(m.Pix) == 4*b.Dx()*b.Dy() {
		return m
	}
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Rect, img, b.Min, draw.Src)
	return out
}
