package imageio

import (
	"image"
	"image/color"
	"testing"
)

func TestHasAlpha(t *testing.T) {
	r := image.Rect(0, 0, 4, 3)

	nrgba := func(a uint8) *image.NRGBA {
		m := image.NewNRGBA(r)
		for i := range m.Pix {
			m.Pix[i] = 0xFF
		}
		m.Pix[m.PixOffset(3, 2)+3] = a
		return m
	}
	rgba := func(a uint8) *image.RGBA {
		m := image.NewRGBA(r)
		for i := range m.Pix {
			m.Pix[i] = 0xFF
		}
		m.Pix[m.PixOffset(2, 1)+3] = a
		return m
	}
	nrgba64 := func(a uint16) *image.NRGBA64 {
		m := image.NewNRGBA64(r)
		for y := 0; y < 3; y++ {
			for x := 0; x < 4; x++ {
				m.SetNRGBA64(x, y, color.NRGBA64{0x1234, 0x5678, 0x9ABC, 0xFFFF})
			}
		}
		m.SetNRGBA64(1, 2, color.NRGBA64{0x1234, 0x5678, 0x9ABC, a})
		return m
	}
	rgba64 := func(a uint16) *image.RGBA64 {
		m := image.NewRGBA64(r)
		for y := 0; y < 3; y++ {
			for x := 0; x < 4; x++ {
				m.SetRGBA64(x, y, color.RGBA64{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF})
			}
		}
		m.SetRGBA64(0, 0, color.RGBA64{a, a, a, a})
		return m
	}
	paletted := func(useTransparent bool) *image.Paletted {
		m := image.NewPaletted(r, color.Palette{color.Black, color.White, color.Transparent})
		m.SetColorIndex(1, 1, 1)
		if useTransparent {
			m.SetColorIndex(3, 2, 2)
		}
		return m
	}
	alpha := image.NewAlpha(r)
	for i := range alpha.Pix {
		alpha.Pix[i] = 0xFF
	}
	alphaHole := image.NewAlpha(r)
	alpha16 := image.NewAlpha16(r)
	for i := range alpha16.Pix {
		alpha16.Pix[i] = 0xFF
	}
	alpha16Hole := image.NewAlpha16(r)
	for i := range alpha16Hole.Pix {
		alpha16Hole.Pix[i] = 0xFF
	}
	alpha16Hole.Pix[5] = 0xFE // low byte of the third pixel
	nycbcra := image.NewNYCbCrA(r, image.YCbCrSubsampleRatio420)
	for i := range nycbcra.A {
		nycbcra.A[i] = 0xFF
	}
	nycbcraHole := image.NewNYCbCrA(r, image.YCbCrSubsampleRatio420)

	// The transparent pixel at (3, 2) lies outside this sub-image.
	sub := nrgba(0).SubImage(image.Rect(0, 0, 3, 2))

	tests := []struct {
		name string
		img  image.Image
		want bool
	}{
		{"nil", nil, false},
		{"gray", image.NewGray(r), false},
		{"gray16", image.NewGray16(r), false},
		{"ycbcr", image.NewYCbCr(r, image.YCbCrSubsampleRatio420), false},
		{"cmyk", image.NewCMYK(r), false},
		{"nrgba opaque", nrgba(0xFF), false},
		{"nrgba 254", nrgba(0xFE), true},
		{"nrgba 0", nrgba(0), true},
		{"nrgba sub-image excluding hole", sub, false},
		{"nrgba empty", image.NewNRGBA(image.Rect(0, 0, 0, 0)), false},
		{"rgba opaque", rgba(0xFF), false},
		{"rgba 0", rgba(0), true},
		{"nrgba64 opaque", nrgba64(0xFFFF), false},
		{"nrgba64 65534", nrgba64(0xFFFE), true},
		{"nrgba64 low byte only", nrgba64(0x00FF), true},
		{"rgba64 opaque", rgba64(0xFFFF), false},
		{"rgba64 32768", rgba64(0x8000), true},
		{"alpha opaque", alpha, false},
		{"alpha zero", alphaHole, true},
		{"alpha16 opaque", alpha16, false},
		{"alpha16 65534", alpha16Hole, true},
		{"nycbcra opaque", nycbcra, false},
		{"nycbcra zero", nycbcraHole, true},
		{"paletted transparent entry used", paletted(true), true},
		{"paletted transparent entry unused", paletted(false), false},
		{"paletted opaque palette", image.NewPaletted(r, color.Palette{color.Black}), false},
		{"uniform opaque", image.NewUniform(color.White), false},
		{"uniform transparent", image.NewUniform(color.Transparent), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HasAlpha(tt.img); got != tt.want {
				t.Errorf("HasAlpha(%s) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

func TestHasAlphaDecoded(t *testing.T) {
	// Decoded images of each kind, as Decode returns them.
	tests := []struct {
		name string
		data []byte
		want bool
	}{
		{"jpeg", encodeWith(t, JPEG, quadrants(8, 8)), false},
		{"jpeg cmyk", readFixture(t, "cmyk.jpg"), false},
		{"png opaque", encodeWith(t, PNG, quadrants(8, 8)), false},
		{"png alpha", encodeWith(t, PNG, semiTransparent(8, 8)), true},
		{"webp lossy", readFixture(t, "lossy.webp"), false},
		{"webp alpha", readFixture(t, "lossy-alpha.webp"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, _, err := DecodeBytes(tt.data, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got := HasAlpha(img); got != tt.want {
				t.Errorf("HasAlpha(decoded %s, %T) = %v, want %v", tt.name, img, got, tt.want)
			}
		})
	}
}

func BenchmarkHasAlphaNRGBA(b *testing.B) {
	img := image.NewNRGBA(image.Rect(0, 0, 1024, 1024))
	for i := range img.Pix {
		img.Pix[i] = 0xFF
	}
	b.SetBytes(int64(len(img.Pix)))
	for b.Loop() {
		if HasAlpha(img) {
			b.Fatal("HasAlpha(opaque) = true")
		}
	}
}

// lazyImage is an image whose pixels must not be read: its Opaque method
// reports whether it is opaque.
type lazyImage struct{ opaque bool }

func (lazyImage) ColorModel() color.Model { return color.NRGBAModel }
func (lazyImage) Bounds() image.Rectangle { return image.Rect(0, 0, 8, 8) }
func (lazyImage) At(x, y int) color.Color { panic("At called on an image with an Opaque method") }
func (m lazyImage) Opaque() bool          { return m.opaque }

func TestHasAlphaAsksOpaque(t *testing.T) {
	if HasAlpha(lazyImage{opaque: true}) {
		t.Errorf("HasAlpha(image whose Opaque returns true) = true, want false")
	}
	if !HasAlpha(lazyImage{opaque: false}) {
		t.Errorf("HasAlpha(image whose Opaque returns false) = false, want true")
	}
}
