package models_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"math"
	"testing"

	"github.com/upscaler-go/upscaler/internal/testfiles"
	"github.com/upscaler-go/upscaler/models"
	"github.com/upscaler-go/upscaler/nn"
	"github.com/upscaler-go/upscaler/tensor"
	"github.com/upscaler-go/upscaler/tfjs"
)

// goldenCase is one official model with the output UpscalerJS made from the
// package's fixture, or no sample for scales the package has none for.
type goldenCase struct {
	pkg    string
	family string
	scale  int
	sample string // path inside the package; "" when the package has none
	slow   bool   // skipped with -short
}

func goldenCases() []goldenCase {
	var cases []goldenCase
	add := func(pkg, family string, scale int, sample string, slow bool) {
		cases = append(cases, goldenCase{pkg, family, scale, sample, slow})
	}
	add(testfiles.DefaultModel, "default-model", 2, "assets/samples/2x/result.png", false)
	for _, s := range []int{2, 3, 4, 8} {
		sample := fmt.Sprintf("assets/samples/%dx/result.png", s)
		if s == 8 {
			sample = "" // slim and medium ship no 8x sample
		}
		add(testfiles.ESRGANSlim, "esrgan-slim", s, sample, false)
		add(testfiles.ESRGANMedium, "esrgan-medium", s, sample, s != 2)
		add(testfiles.ESRGANThick, "esrgan-thick", s, fmt.Sprintf("assets/samples/%dx/result.png", s), s != 2)
	}
	for _, s := range []int{2, 3, 4} {
		add(testfiles.ESRGANLegacy, "esrgan-legacy/div2k", s, fmt.Sprintf("assets/samples/div2k/%dx/result.png", s), s != 2)
	}
	add(testfiles.ESRGANLegacy, "esrgan-legacy/psnr-small", 2, "assets/samples/psnr-small/result.png", false)
	add(testfiles.ESRGANLegacy, "esrgan-legacy/gans", 4, "assets/samples/gans/result.png", false)
	return cases
}

// TestGolden runs every official model on its package's fixture and
// compares with the output UpscalerJS 1.0 produced. The bar is the one
// UpscalerJS on Node meets against its own samples: no value more than one
// level off, and at most 0.1% of values off at all.
func TestGolden(t *testing.T) {
	for _, c := range goldenCases() {
		t.Run(fmt.Sprintf("%s/%dx", c.family, c.scale), func(t *testing.T) {
			if c.slow && testing.Short() {
				t.Skip("slow model; runs without -short")
			}
			if testfiles.Race && c.family != "default-model" && c.family != "esrgan-slim" {
				// The golden tests check numbers, not concurrency; the race
				// detector's run covers the shared code with the small models.
				t.Skip("large model; runs without the race detector")
			}
			path := testfiles.Package(t, c.pkg)
			def, err := models.FromPackage(path, c.family, c.scale)
			if err != nil {
				t.Fatal(err)
			}
			pkg, err := tfjs.OpenPackage(path)
			if err != nil {
				t.Fatal(err)
			}
			fixture := readPNG(t, pkg, "assets/fixture.png")
			got := upscale(t, &def, fixture)
			if want := fixture.Bounds().Size().Mul(c.scale); got.Bounds().Size() != want {
				t.Fatalf("output size %v, want %v", got.Bounds().Size(), want)
			}
			if c.sample == "" {
				// No UpscalerJS sample: the output must still resemble the
				// fixture enlarged, which garbage from a wrong layer would not.
				if p := psnr(got, nearest(fixture, c.scale)); p < 20 {
					t.Errorf("PSNR against a nearest-neighbour enlargement = %.1f dB, want at least 20", p)
				}
				return
			}
			want := readPNG(t, pkg, c.sample)
			maxDiff, differing, total := compareRGB(got, want)
			t.Logf("against UpscalerJS's sample: max difference %d levels, %d of %d values differ", maxDiff, differing, total)
			if maxDiff > 1 || float64(differing) > 0.001*float64(total) {
				t.Errorf("output differs from UpscalerJS's sample %s: max difference %d levels, %d of %d values differ (%.3f%%); want at most 1 level and 0.1%%",
					c.sample, maxDiff, differing, total, 100*float64(differing)/float64(total))
			}
		})
	}
}

// TestGoldenPixelUpsampler checks the weightless nearest-neighbour models
// exactly against a direct enlargement.
func TestGoldenPixelUpsampler(t *testing.T) {
	path := testfiles.Package(t, testfiles.PixelUpsampler)
	pkg, err := tfjs.OpenPackage(path)
	if err != nil {
		t.Fatal(err)
	}
	fixture := readPNG(t, pkg, "assets/fixture.png")
	for _, scale := range []int{2, 3, 4} {
		def, err := models.FromPackage(path, "", scale)
		if err != nil {
			t.Fatal(err)
		}
		got := upscale(t, &def, fixture)
		if maxDiff, differing, _ := compareRGB(got, nearest(fixture, scale)); maxDiff != 0 {
			t.Errorf("pixel-upsampler %dx: %d values differ from nearest-neighbour enlargement (max %d levels), want 0", scale, differing, maxDiff)
		}
	}
}

// TestDefaultEmbedded checks that the embedded default model gives the
// default-model package's sample.
func TestDefaultEmbedded(t *testing.T) {
	def := models.Default()
	pkg, err := tfjs.OpenPackage(testfiles.Package(t, testfiles.DefaultModel))
	if err != nil {
		t.Fatal(err)
	}
	got := upscale(t, &def, readPNG(t, pkg, "assets/fixture.png"))
	if maxDiff, differing, total := compareRGB(got, readPNG(t, pkg, "assets/samples/2x/result.png")); maxDiff > 1 || float64(differing) > 0.001*float64(total) {
		t.Errorf("embedded default model: max difference %d, %d of %d values differ", maxDiff, differing, total)
	}
}

func readPNG(t *testing.T, pkg *tfjs.Package, name string) image.Image {
	t.Helper()
	b, err := pkg.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return img
}

// upscale runs def on img's RGB channels the way UpscalerJS does: scale into
// the input range, run, clip to the output range, scale back to 0..255 and
// round.
func upscale(t *testing.T, def *models.Definition, img image.Image) *image.NRGBA {
	t.Helper()
	m, err := def.Load()
	if err != nil {
		t.Fatal(err)
	}
	model, err := nn.Compile(m.Graph, nn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	in := tensor.New(b.Dy(), b.Dx(), 3)
	k := def.In().Max / 255
	for y := range b.Dy() {
		for x := range b.Dx() {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			i := (y*b.Dx() + x) * 3
			in.Data[i], in.Data[i+1], in.Data[i+2] = float32(r>>8)*k, float32(g>>8)*k, float32(bl>>8)*k
		}
	}
	out, err := model.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	h, w := out.Shape[0], out.Shape[1]
	res := image.NewNRGBA(image.Rect(0, 0, w, h))
	top := def.Out().Max
	for i := range h * w {
		for c := range 3 {
			v := min(max(out.Data[i*3+c], 0), top) * (255 / top)
			res.Pix[i*4+c] = uint8(math.Round(float64(v)))
		}
		res.Pix[i*4+3] = 255
	}
	return res
}

func nearest(img image.Image, scale int) *image.NRGBA {
	b := img.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx()*scale, b.Dy()*scale))
	for y := range b.Dy() * scale {
		for x := range b.Dx() * scale {
			out.Set(x, y, img.At(b.Min.X+x/scale, b.Min.Y+y/scale))
		}
	}
	return out
}

// compareRGB returns the largest per-channel difference between two images
// of equal size, the number of differing values and the number compared.
func compareRGB(a *image.NRGBA, b image.Image) (maxDiff, differing, total int) {
	bb := b.Bounds()
	for y := range a.Bounds().Dy() {
		for x := range a.Bounds().Dx() {
			r, g, bl, _ := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			want := [3]int{int(r >> 8), int(g >> 8), int(bl >> 8)}
			for c := range 3 {
				d := int(a.Pix[y*a.Stride+x*4+c]) - want[c]
				d = max(d, -d)
				maxDiff = max(maxDiff, d)
				if d > 0 {
					differing++
				}
				total++
			}
		}
	}
	return maxDiff, differing, total
}

func psnr(a *image.NRGBA, b image.Image) float64 {
	var sum float64
	var n int
	bb := b.Bounds()
	for y := range a.Bounds().Dy() {
		for x := range a.Bounds().Dx() {
			r, g, bl, _ := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			want := [3]float64{float64(r >> 8), float64(g >> 8), float64(bl >> 8)}
			for c := range 3 {
				d := float64(a.Pix[y*a.Stride+x*4+c]) - want[c]
				sum += d * d
				n++
			}
		}
	}
	return 10 * math.Log10(255*255/(sum/float64(n)))
}
