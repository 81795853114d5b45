package upscaler_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"testing"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/internal/testfiles"
)

// alphaImages returns pairs of images that differ only in the colour under
// fully transparent pixels, in several colour models. Each is 12×10: a
// transparent left third, a half-transparent middle and an opaque right
// third with a pattern.
func alphaImages() map[string][2]image.Image {
	const w, h = 12, 10
	alphaAt := func(x int) uint8 {
		switch {
		case x < 4:
			return 0
		case x < 8:
			return 128
		}
		return 255
	}
	out := map[string][2]image.Image{}
	var n8 [2]image.Image
	var n16 [2]image.Image
	var ga [2]image.Image
	for k, hidden := range []uint8{0, 255} {
		a := image.NewNRGBA(image.Rect(0, 0, w, h))
		b := image.NewNRGBA64(image.Rect(0, 0, w, h))
		g := image.NewNRGBA(image.Rect(0, 0, w, h)) // grey with alpha, as PNG decodes grey+alpha
		for y := range h {
			for x := range w {
				v := uint8(30 + 15*x + 7*y)
				c := color.NRGBA{v, 255 - v, v / 2, alphaAt(x)}
				if c.A == 0 {
					c.R, c.G, c.B = hidden, hidden, 255-hidden
				}
				a.SetNRGBA(x, y, c)
				b.SetNRGBA64(x, y, color.NRGBA64{uint16(c.R) * 257, uint16(c.G) * 257, uint16(c.B) * 257, uint16(c.A) * 257})
				gv := v
				if c.A == 0 {
					gv = hidden
				}
				g.SetNRGBA(x, y, color.NRGBA{gv, gv, gv, c.A})
			}
		}
		n8[k], n16[k], ga[k] = a, b, g
	}
	out["NRGBA"], out["NRGBA64"], out["grey+alpha"] = n8, n16, ga
	// A paletted PNG with a transparent index: the hidden colour is the
	// palette entry's colour.
	var pal [2]image.Image
	for k, hidden := range []uint8{0, 200} {
		p := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{
			color.NRGBA{hidden, hidden, hidden, 0}, color.NRGBA{250, 20, 20, 255}, color.NRGBA{20, 20, 250, 255}, color.NRGBA{20, 200, 20, 128},
		})
		for y := range h {
			for x := range w {
				switch {
				case x < 4:
					p.SetColorIndex(x, y, 0)
				case x < 8:
					p.SetColorIndex(x, y, 3)
				default:
					p.SetColorIndex(x, y, uint8(1+(x+y)%2))
				}
			}
		}
		// Round-trip through PNG so the input is a real paletted file.
		var buf bytes.Buffer
		if err := png.Encode(&buf, p); err != nil {
			panic(err)
		}
		img, err := png.Decode(&buf)
		if err != nil {
			panic(err)
		}
		pal[k] = img
	}
	out["paletted"] = pal
	return out
}

func TestAlpha(t *testing.T) {
	for _, scale := range []int{2, 3, 4, 8} {
		u := newUpscaler(t, testfiles.ESRGANSlim, "esrgan-slim", scale)
		for name, pair := range alphaImages() {
			for _, mode := range []upscaler.AlphaMode{upscaler.AlphaBicubic, upscaler.AlphaModel} {
				t.Run(fmt.Sprintf("%dx/%s/%s", scale, name, mode), func(t *testing.T) {
					var imgs [2]*image.NRGBA
					for k, in := range pair {
						res, err := u.Upscale(context.Background(), in, &upscaler.Options{Alpha: mode})
						if err != nil {
							t.Fatal(err)
						}
						if res.Alpha == nil {
							t.Fatal("Alpha is nil for a transparent input")
						}
						imgs[k] = res.Image()
					}
					img := imgs[0]
					if img.Bounds().Dx() != 12*scale || img.Bounds().Dy() != 10*scale {
						t.Fatalf("output is %v, want %d×%d", img.Bounds(), 12*scale, 10*scale)
					}
					in := pair[0]
					for y := range img.Bounds().Dy() {
						for x := range img.Bounds().Dx() {
							_, _, _, a := in.At(x/scale, y/scale).RGBA()
							got := img.NRGBAAt(x, y).A
							if a == 0 && got != 0 {
								t.Fatalf("output (%d, %d) alpha = %d, want 0 under a transparent pixel", x, y, got)
							}
							if a == 0xffff && got != 255 {
								t.Fatalf("output (%d, %d) alpha = %d, want 255 under an opaque pixel", x, y, got)
							}
						}
					}
					if !bytes.Equal(visible(imgs[0]), visible(imgs[1])) {
						t.Errorf("the colour hidden under transparent pixels changed the visible result")
					}
				})
			}
		}
	}
}

// visible returns the pixels of img with the colour of fully transparent
// pixels zeroed.
func visible(img *image.NRGBA) []byte {
	b := bytes.Clone(img.Pix)
	for i := 0; i < len(b); i += 4 {
		if b[i+3] == 0 {
			b[i], b[i+1], b[i+2] = 0, 0, 0
		}
	}
	return b
}
