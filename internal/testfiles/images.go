package testfiles

import (
	"bytes"
	"image"
	"image/png"
	"testing"

	"github.com/upscaler-go/upscaler/tfjs"
)

// Asset returns a PNG asset of a fetched model package, such as
// "assets/fixture.png" or "assets/samples/2x/result.png", decoded.
func Asset(tb testing.TB, pkgFile, name string) image.Image {
	tb.Helper()
	pkg, err := tfjs.OpenPackage(Package(tb, pkgFile))
	if err != nil {
		tb.Fatal(err)
	}
	b, err := pkg.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		tb.Fatalf("decode %s of %s: %v", name, pkgFile, err)
	}
	return img
}

// Tiled returns a w×h image filled by repeating img from its top-left
// corner.
func Tiled(img image.Image, w, h int) *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	b := img.Bounds()
	for y := range h {
		for x := range w {
			out.Set(x, y, img.At(b.Min.X+x%b.Dx(), b.Min.Y+y%b.Dy()))
		}
	}
	return out
}
