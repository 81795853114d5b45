package testfiles

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"image"
	"image/png"
	"io"
	"os"
	"testing"
)

// Asset returns a PNG asset of a fetched model package, such as
// "assets/fixture.png" or "assets/samples/2x/result.png", decoded.
func Asset(tb testing.TB, pkgFile, name string) image.Image {
	tb.Helper()
	// The tarball is read here rather than with package tfjs, whose own
	// tests use this package.
	f, err := os.Open(Package(tb, pkgFile))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			tb.Fatalf("%s has no %s", pkgFile, name)
		}
		if err != nil {
			tb.Fatal(err)
		}
		if h.Name != "package/"+name {
			continue
		}
		img, err := png.Decode(tr)
		if err != nil {
			tb.Fatalf("decode %s of %s: %v", name, pkgFile, err)
		}
		return img
	}
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
