package upscaler_test

import (
	"encoding/base64"
	"image"
	"image/color"
	"math"
	"runtime"
	"testing"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/internal/testfiles"
	"github.com/upscaler-go/upscaler/models"
	"github.com/upscaler-go/upscaler/tensor"
)

// newUpscaler loads an official model from its fetched package.
func newUpscaler(t testing.TB, pkgFile, family string, scale int) *upscaler.Upscaler {
	t.Helper()
	def, err := models.FromPackage(testfiles.Package(t, pkgFile), family, scale)
	if err != nil {
		t.Fatal(err)
	}
	u, err := upscaler.New(upscaler.Config{Model: &def})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

func fixture(t testing.TB, pkgFile string) image.Image {
	t.Helper()
	return testfiles.Asset(t, pkgFile, "assets/fixture.png")
}

func grey(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	return img
}

func uniform(w, h int, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

// maxRoundedDiff returns the largest difference between two tensors after
// rounding each value to a level.
func maxRoundedDiff(a, b *tensor.Tensor) float64 {
	d := 0.0
	for i := range a.Data {
		d = max(d, math.Abs(math.Round(float64(a.Data[i]))-math.Round(float64(b.Data[i]))))
	}
	return d
}

// psnr compares two 0..255 tensors of equal shape.
func psnr(a, b *tensor.Tensor) float64 {
	var sum float64
	for i := range a.Data {
		d := float64(a.Data[i]) - float64(b.Data[i])
		sum += d * d
	}
	if sum == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(sum/float64(len(a.Data))))
}

var _ = upscaler.ErrAborted

// imageTensor returns an opaque image's pixels as a [h, w, 3] tensor.
func imageTensor(img image.Image) (*tensor.Tensor, error) {
	b := img.Bounds()
	t := tensor.New(b.Dy(), b.Dx(), 3)
	for y := range b.Dy() {
		for x := range b.Dx() {
			c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			i := (y*b.Dx() + x) * 3
			t.Data[i], t.Data[i+1], t.Data[i+2] = float32(c.R), float32(c.G), float32(c.B)
		}
	}
	return t, nil
}

func base64Encode(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// livePeak runs call with a Progress function and returns the largest live
// heap seen after a patch, less the live heap before the call. Each patch
// ends with a garbage collection, so only what is still referenced counts.
func livePeak(call func(progress func(upscaler.Progress))) int64 {
	var peak uint64
	progress := func(upscaler.Progress) {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	// Two collections empty the sync.Pools first. Otherwise the
	// collections during the call would empty them and hide growth.
	runtime.GC()
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	call(progress)
	return int64(peak) - int64(base.HeapAlloc)
}
