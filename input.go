package upscaler

import (
	"fmt"
	"image"
	"image/color"
	"io"
	"strings"

	"github.com/upscaler-go/upscaler/internal/imageio"
	"github.com/upscaler-go/upscaler/tensor"
)

// Uint8Tensor is a tensor of 8-bit values, as a browser's canvas gives them:
// shape [h, w, 3] or [1, h, w, 3] (or 4 channels, the last being alpha).
type Uint8Tensor struct {
	Shape []int
	Data  []uint8
}

// pixels is the colour input of one call: h×w pixels of three 0..255 values.
// It refers to the caller's data when that data has a usable layout: a
// float32 RGB tensor, 8-bit RGB, or opaque 8-bit RGBA. A call then holds no
// float32 copy of the whole image, and run reads one window row at a time.
type pixels struct {
	w, h int
	// f holds 3 values per pixel, row after row, when the input is float32.
	f []float32
	// u8 holds 8-bit input: pixel (x, y) channel c is at
	// off + y·rowStride + x·pixStride + c.
	u8                        []uint8
	off, rowStride, pixStride int
}

// floatPixels returns the pixels of a [h, w, 3] float32 tensor.
func floatPixels(t *tensor.Tensor) *pixels {
	return &pixels{w: t.Shape[1], h: t.Shape[0], f: t.Data}
}

// row writes the pixels of row y from column x on, times scale, to dst:
// len(dst)/3 pixels of three values.
func (p *pixels) row(y, x int, dst []float32, scale float32) {
	if p.f != nil {
		for j, v := range p.f[(y*p.w+x)*3:][:len(dst)] {
			dst[j] = v * scale
		}
		return
	}
	src := p.u8[p.off+y*p.rowStride+x*p.pixStride:]
	for i := range len(dst) / 3 {
		px := src[i*p.pixStride:][:3]
		dst[i*3] = float32(px[0]) * scale
		dst[i*3+1] = float32(px[1]) * scale
		dst[i*3+2] = float32(px[2]) * scale
	}
}

// decodeInput turns any accepted input into its colour pixels of 0..255
// values and, when the input has transparency, an alpha plane [h, w, 1] of
// 0..255.
func decodeInput(input any, maxPixels int64) (rgb *pixels, alpha *tensor.Tensor, err error) {
	lim := imageio.Limits{MaxPixels: maxPixels}
	var img image.Image
	switch v := input.(type) {
	case *tensor.Tensor:
		if v == nil {
			return nil, nil, fmt.Errorf("%w: nil tensor", ErrInput)
		}
		return splitTensor(v.Shape, v.Data, nil, maxPixels)
	case tensor.Tensor:
		return splitTensor(v.Shape, v.Data, nil, maxPixels)
	case Uint8Tensor:
		return splitTensor(v.Shape, nil, v.Data, maxPixels)
	case *Uint8Tensor:
		return splitTensor(v.Shape, nil, v.Data, maxPixels)
	case image.Image:
		img = v
	case []byte:
		img, _, err = imageio.DecodeBytes(v, lim)
	case io.Reader:
		img, _, err = imageio.Decode(v, lim)
	case string:
		if strings.HasPrefix(v, "data:") {
			img, _, err = imageio.DecodeDataURI(v, lim)
		} else {
			img, _, err = imageio.DecodeFile(v, lim)
		}
	case nil:
		return nil, nil, fmt.Errorf("%w: input is nil", ErrInput)
	default:
		return nil, nil, fmt.Errorf("%w: input of type %T; pass an image.Image, []byte, io.Reader, path or data: URI string, *tensor.Tensor or Uint8Tensor", ErrInput, input)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInput, err)
	}
	b := img.Bounds()
	if b.Empty() {
		return nil, nil, fmt.Errorf("%w: image is empty (%d×%d)", ErrInput, b.Dx(), b.Dy())
	}
	if int64(b.Dx())*int64(b.Dy()) > maxPixels {
		return nil, nil, fmt.Errorf("%w: image is %d×%d, more than the %d pixels allowed; raise Options.MaxPixels", ErrInput, b.Dx(), b.Dy(), maxPixels)
	}
	if p := opaquePixels(img); p != nil {
		return p, nil, nil
	}
	rgb32, alpha := fromImage(img)
	return floatPixels(rgb32), alpha, nil
}

// opaquePixels returns the pixels of an opaque 8-bit RGBA or NRGBA image
// without copying them, or nil for any other image. For opaque pixels both
// types hold the colour values themselves.
func opaquePixels(img image.Image) *pixels {
	b := img.Bounds()
	var pix []uint8
	var stride, off int
	switch m := img.(type) {
	case *image.NRGBA:
		pix, stride, off = m.Pix, m.Stride, m.PixOffset(b.Min.X, b.Min.Y)
	case *image.RGBA:
		pix, stride, off = m.Pix, m.Stride, m.PixOffset(b.Min.X, b.Min.Y)
	default:
		return nil
	}
	if imageio.HasAlpha(img) {
		return nil
	}
	return &pixels{w: b.Dx(), h: b.Dy(), u8: pix, off: off, rowStride: stride, pixStride: 4}
}

// splitTensor checks a tensor's shape and values and splits off alpha.
// Colour without alpha is used in place.
func splitTensor(shape []int, f []float32, u8 []uint8, maxPixels int64) (rgb *pixels, alpha *tensor.Tensor, err error) {
	var h, w, c int
	switch {
	case len(shape) == 3:
		h, w, c = shape[0], shape[1], shape[2]
	case len(shape) == 4 && shape[0] == 1:
		h, w, c = shape[1], shape[2], shape[3]
	default:
		return nil, nil, fmt.Errorf("%w: tensor shape %v; want [height, width, 3] or [1, height, width, 3]", ErrInput, shape)
	}
	if h <= 0 || w <= 0 || (c != 3 && c != 4) {
		return nil, nil, fmt.Errorf("%w: tensor shape %v; want [height, width, 3] with positive sizes (4 channels for RGBA)", ErrInput, shape)
	}
	if int64(h)*int64(w) > maxPixels {
		return nil, nil, fmt.Errorf("%w: tensor is %d×%d, more than the %d pixels allowed; raise Options.MaxPixels", ErrInput, w, h, maxPixels)
	}
	n := h * w * c
	if (f != nil && len(f) != n) || (f == nil && len(u8) != n) {
		return nil, nil, fmt.Errorf("%w: tensor shape %v needs %d values but the data has %d", ErrInput, shape, n, max(len(f), len(u8)))
	}
	for i, v := range f {
		if !(v >= 0 && v <= 255) { // NaN fails both
			return nil, nil, fmt.Errorf("%w: tensor value at pixel %d channel %d is %v; values must be 0..255, as in an 8-bit image", ErrInput, i/c, i%c, v)
		}
	}
	if u8 != nil && (c == 3 || opaqueBytes(u8, c)) {
		return &pixels{w: w, h: h, u8: u8, rowStride: w * c, pixStride: c}, nil, nil
	}
	if f != nil && c == 3 {
		return &pixels{w: w, h: h, f: f}, nil, nil
	}

	rgb32 := tensor.New(h, w, 3)
	alpha = tensor.New(h, w, 1)
	for p := range h * w {
		for ch := range c {
			var v float32
			if f != nil {
				v = f[p*c+ch]
			} else {
				v = float32(u8[p*c+ch])
			}
			if ch == 3 {
				alpha.Data[p] = v
			} else {
				rgb32.Data[p*3+ch] = v
			}
		}
	}
	if opaque(alpha) {
		alpha = nil
	} else {
		hideTransparent(rgb32, alpha)
	}
	return floatPixels(rgb32), alpha, nil
}

// opaqueBytes reports whether every pixel of 8-bit data with c channels
// has alpha 255.
func opaqueBytes(u8 []uint8, c int) bool {
	for i := c - 1; i < len(u8); i += c {
		if u8[i] != 255 {
			return false
		}
	}
	return true
}

func opaque(alpha *tensor.Tensor) bool {
	for _, a := range alpha.Data {
		if a < 255 {
			return false
		}
	}
	return true
}

// fromImage converts any image to non-premultiplied RGB and, when it is not
// opaque, alpha, both 0..255 and keeping 16-bit precision as fractions.
func fromImage(img image.Image) (rgb, alpha *tensor.Tensor) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	rgb = tensor.New(h, w, 3)
	hasAlpha := imageio.HasAlpha(img)
	if hasAlpha {
		alpha = tensor.New(h, w, 1)
	}
	if src, ok := img.(*image.NRGBA); ok {
		for y := range h {
			row := src.Pix[src.PixOffset(b.Min.X, b.Min.Y+y):][:w*4]
			for x := range w {
				i := y*w + x
				rgb.Data[i*3], rgb.Data[i*3+1], rgb.Data[i*3+2] = float32(row[x*4]), float32(row[x*4+1]), float32(row[x*4+2])
				if alpha != nil {
					alpha.Data[i] = float32(row[x*4+3])
				}
			}
		}
	} else {
		const k = 255.0 / 65535
		for y := range h {
			for x := range w {
				c := color.NRGBA64Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
				i := y*w + x
				rgb.Data[i*3], rgb.Data[i*3+1], rgb.Data[i*3+2] = float32(float64(c.R)*k), float32(float64(c.G)*k), float32(float64(c.B)*k)
				if alpha != nil {
					alpha.Data[i] = float32(float64(c.A) * k)
				}
			}
		}
	}
	if alpha != nil {
		hideTransparent(rgb, alpha)
	}
	return rgb, alpha
}

// hideTransparent replaces the colour of fully transparent pixels with the
// alpha-weighted mean colour of the visible ones. Hidden colour then cannot
// bleed into visible pixels through the model, and the result does not
// depend on it.
func hideTransparent(rgb, alpha *tensor.Tensor) {
	var sum [3]float64
	var weight float64
	for i, a := range alpha.Data {
		for c := range 3 {
			sum[c] += float64(rgb.Data[i*3+c]) * float64(a)
		}
		weight += float64(a)
	}
	var mean [3]float32
	if weight > 0 {
		for c := range 3 {
			mean[c] = float32(sum[c] / weight)
		}
	}
	for i, a := range alpha.Data {
		if a == 0 {
			copy(rgb.Data[i*3:i*3+3], mean[:])
		}
	}
}
