package imageio

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// Quadrant colours of the test pattern. Each is far from the others in
// every encoding, so a lossy round trip still identifies it.
var (
	red   = color.NRGBA{255, 0, 0, 255}
	green = color.NRGBA{0, 255, 0, 255}
	blue  = color.NRGBA{0, 0, 255, 255}
	white = color.NRGBA{255, 255, 255, 255}
)

// quadrants returns a w×h image whose top-left quarter is red, top-right
// green, bottom-left blue and bottom-right white. The fixtures in testdata
// show the same pattern at 32×24.
func quadrants(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var c color.NRGBA
			switch {
			case x < w/2 && y < h/2:
				c = red
			case y < h/2:
				c = green
			case x < w/2:
				c = blue
			default:
				c = white
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// corners returns the colours at the centres of the four quadrants of img, in
// the order top-left, top-right, bottom-left, bottom-right.
func corners(img image.Image) [4]color.Color {
	b := img.Bounds()
	xs := [2]int{b.Min.X + b.Dx()/4, b.Min.X + 3*b.Dx()/4}
	ys := [2]int{b.Min.Y + b.Dy()/4, b.Min.Y + 3*b.Dy()/4}
	return [4]color.Color{img.At(xs[0], ys[0]), img.At(xs[1], ys[0]), img.At(xs[0], ys[1]), img.At(xs[1], ys[1])}
}

// near reports whether got is within tol of want in each 8-bit
// non-premultiplied channel, alpha included.
func near(got, want color.Color, tol int) bool {
	g := color.NRGBAModel.Convert(got).(color.NRGBA)
	w := color.NRGBAModel.Convert(want).(color.NRGBA)
	for _, d := range []int{
		int(g.R) - int(w.R), int(g.G) - int(w.G), int(g.B) - int(w.B), int(g.A) - int(w.A),
	} {
		if d < -tol || d > tol {
			return false
		}
	}
	return true
}

// checkCorners fails t unless the quadrant centres of img match want within
// tol.
func checkCorners(t *testing.T, name string, img image.Image, want [4]color.Color, tol int) {
	t.Helper()
	got := corners(img)
	labels := [4]string{"top-left", "top-right", "bottom-left", "bottom-right"}
	for i := range got {
		if !near(got[i], want[i], tol) {
			t.Errorf("%s: %s quadrant = %v, want %v (tolerance %d)",
				name, labels[i], color.NRGBAModel.Convert(got[i]), color.NRGBAModel.Convert(want[i]), tol)
		}
	}
}

// encodeWith encodes img with one of the Go encoders and fails t on error.
func encodeWith(t testing.TB, f Format, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch f {
	case PNG:
		err = png.Encode(&buf, img)
	case JPEG:
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95})
	case GIF:
		err = gif.Encode(&buf, img, nil)
	case BMP:
		err = bmp.Encode(&buf, img)
	case TIFF:
		err = tiff.Encode(&buf, img, nil)
	default:
		t.Fatalf("encodeWith: no Go encoder for %q", f)
	}
	if err != nil {
		t.Fatalf("encode %s: %v", f, err)
	}
	return buf.Bytes()
}

// readFixture returns the contents of testdata/name.
func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// quadrantColors is the expected corner order of an upright quadrants image.
var quadrantColors = [4]color.Color{red, green, blue, white}
