package imageio

import (
	"image"
	"image/color"
)

// HasAlpha reports whether any pixel of img is less than fully opaque.
//
// Images whose colour model cannot express transparency (8- and 16-bit
// gray, YCbCr and CMYK) return false without looking at pixels. For a
// paletted image only palette entries that some pixel uses count, and pixel
// indices outside the palette are ignored. An *image.Uniform reports its
// colour. Other image types with an Opaque method return its result, and
// the rest are scanned pixel by pixel through At, which takes time in
// proportion to the area of the bounds.
func HasAlpha(img image.Image) bool {
	if img == nil {
		return false
	}
	b := img.Bounds()
	if b.Empty() {
		return false
	}

	switch m := img.(type) {
	case *image.Gray, *image.Gray16, *image.YCbCr, *image.CMYK:
		return false
	case *image.NRGBA:
		return anyAlphaBelow8(m.Pix, m.Stride, m.PixOffset(b.Min.X, b.Min.Y), b.Dx(), b.Dy(), 4, 3)
	case *image.RGBA:
		return anyAlphaBelow8(m.Pix, m.Stride, m.PixOffset(b.Min.X, b.Min.Y), b.Dx(), b.Dy(), 4, 3)
	case *image.Alpha:
		return anyAlphaBelow8(m.Pix, m.Stride, m.PixOffset(b.Min.X, b.Min.Y), b.Dx(), b.Dy(), 1, 0)
	case *image.NYCbCrA:
		return anyAlphaBelow8(m.A, m.AStride, m.AOffset(b.Min.X, b.Min.Y), b.Dx(), b.Dy(), 1, 0)
	case *image.NRGBA64:
		return anyAlphaBelow16(m.Pix, m.Stride, m.PixOffset(b.Min.X, b.Min.Y), b.Dx(), b.Dy(), 8, 6)
	case *image.RGBA64:
		return anyAlphaBelow16(m.Pix, m.Stride, m.PixOffset(b.Min.X, b.Min.Y), b.Dx(), b.Dy(), 8, 6)
	case *image.Alpha16:
		return anyAlphaBelow16(m.Pix, m.Stride, m.PixOffset(b.Min.X, b.Min.Y), b.Dx(), b.Dy(), 2, 0)
	case *image.Paletted:
		return palettedHasAlpha(m)
	case *image.Uniform:
		// Its bounds are practically infinite, so never scan it.
		_, _, _, a := m.C.RGBA()
		return a != 0xFFFF
	}

	switch img.ColorModel() {
	case color.GrayModel, color.Gray16Model, color.YCbCrModel, color.CMYKModel:
		return false
	}
	if p, ok := img.ColorModel().(color.Palette); ok && !paletteHasAlpha(p) {
		return false
	}
	// An image computed as it is read must not be read twice.
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return !o.Opaque()
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if _, _, _, a := img.At(x, y).RGBA(); a != 0xFFFF {
				return true
			}
		}
	}
	return false
}

// anyAlphaBelow8 scans an 8-bit alpha channel: w×h pixels of size bytes
// each, starting at pix[start], with alpha at byte offset alpha of a pixel.
func anyAlphaBelow8(pix []byte, stride, start, w, h, size, alpha int) bool {
	for y := 0; y < h; y++ {
		row := pix[start+y*stride : start+y*stride+w*size]
		for i := alpha; i < len(row); i += size {
			if row[i] != 0xFF {
				return true
			}
		}
	}
	return false
}

// anyAlphaBelow16 is anyAlphaBelow8 for big-endian 16-bit alpha samples.
func anyAlphaBelow16(pix []byte, stride, start, w, h, size, alpha int) bool {
	for y := 0; y < h; y++ {
		row := pix[start+y*stride : start+y*stride+w*size]
		for i := alpha; i+1 < len(row); i += size {
			if row[i] != 0xFF || row[i+1] != 0xFF {
				return true
			}
		}
	}
	return false
}

// paletteHasAlpha reports whether any palette entry is less than opaque.
func paletteHasAlpha(p color.Palette) bool {
	for _, c := range p {
		if c == nil {
			continue
		}
		if _, _, _, a := c.RGBA(); a != 0xFFFF {
			return true
		}
	}
	return false
}

// palettedHasAlpha reports whether a pixel of m uses a palette entry that is
// less than opaque.
func palettedHasAlpha(m *image.Paletted) bool {
	var transparent [256]bool
	found := false
	for i, c := range m.Palette {
		if i >= len(transparent) {
			break
		}
		if c == nil {
			continue
		}
		if _, _, _, a := c.RGBA(); a != 0xFFFF {
			transparent[i] = true
			found = true
		}
	}
	if !found {
		return false
	}

	b := m.Bounds()
	start := m.PixOffset(b.Min.X, b.Min.Y)
	for y := 0; y < b.Dy(); y++ {
		row := m.Pix[start+y*m.Stride : start+y*m.Stride+b.Dx()]
		for _, index := range row {
			if transparent[index] {
				return true
			}
		}
	}
	return false
}
