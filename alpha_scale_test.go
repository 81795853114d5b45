package upscaler

import (
	"image"
	"math"
	"math/rand/v2"
	"testing"

	"golang.org/x/image/draw"

	"github.com/upscaler-go/upscaler/tensor"
)

// TestAlphaScalerMatchesDraw compares the Catmull-Rom enlargement with
// golang.org/x/image/draw's on a random plane. draw works in 16-bit grey,
// so the two may differ by its rounding, under 1/257 of a level.
func TestAlphaScalerMatchesDraw(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const w, h = 9, 7
	alpha := tensor.New(h, w, 1)
	src := image.NewGray16(image.Rect(0, 0, w, h))
	for i := range alpha.Data {
		v := uint16(rng.IntN(256) * 257)
		src.Pix[2*i], src.Pix[2*i+1] = byte(v>>8), byte(v)
		alpha.Data[i] = float32(v) / 257
	}
	for _, s := range []int{2, 3, 4, 8} {
		dst := image.NewGray16(image.Rect(0, 0, w*s, h*s))
		draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
		got := make([]float32, w*s*h*s)
		newAlphaScaler(alpha, s).rows(0, h*s, got)
		worst := 0.0
		for i, v := range got {
			want := float64(uint16(dst.Pix[2*i])<<8|uint16(dst.Pix[2*i+1])) / 257
			// draw clips to the 16-bit range; the scaler leaves that to
			// pinAlpha.
			worst = max(worst, math.Abs(min(max(float64(v), 0), 255)-want))
		}
		if worst > 1.0/257 {
			t.Errorf("%dx: enlarged alpha differs from draw.CatmullRom by up to %.4f levels, want under %.4f", s, worst, 1.0/257)
		}
	}
}

// TestAlphaScalerBands checks that rows computed band by band equal rows
// computed at once.
func TestAlphaScalerBands(t *testing.T) {
	const w, h, s = 6, 11, 3
	alpha := tensor.New(h, w, 1)
	for i := range alpha.Data {
		alpha.Data[i] = float32(i * 37 % 256)
	}
	whole := make([]float32, w*s*h*s)
	newAlphaScaler(alpha, s).rows(0, h*s, whole)
	banded := newAlphaScaler(alpha, s)
	for _, band := range [][2]int{{0, 5}, {5, 6}, {6, 20}, {20, 33}} {
		got := make([]float32, (band[1]-band[0])*w*s)
		banded.rows(band[0], band[1], got)
		for i, v := range got {
			if want := whole[band[0]*w*s+i]; v != want {
				t.Fatalf("rows %d..%d: value %d = %v, want %v as computed at once", band[0], band[1], i, v, want)
			}
		}
	}
}
