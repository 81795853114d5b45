package nn_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/upscaler-go/upscaler/internal/testfiles"
	"github.com/upscaler-go/upscaler/nn"
	"github.com/upscaler-go/upscaler/tensor"
	"github.com/upscaler-go/upscaler/tfjs"
)

// These tests run the published UpscalerJS models. They are skipped when
// the packages have not been fetched into testdata/npm.

// loadModel loads the model at path inside an UpscalerJS package.
func loadModel(tb testing.TB, pkg, path string) *tfjs.Model {
	tb.Helper()
	p, err := tfjs.OpenPackage(testfiles.Package(tb, pkg))
	if err != nil {
		tb.Fatal(err)
	}
	m, err := p.Load(path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// imageTensor returns an h×w RGB tensor with smooth gradients and some
// texture, in the 0..255 range the models take.
func imageTensor(h, w int) *tensor.Tensor {
	t := tensor.New(h, w, 3)
	for y := range h {
		for x := range w {
			p := t.Data[(y*w+x)*3:]
			p[0] = float32(255 * x / max(w-1, 1))
			p[1] = float32(255 * y / max(h-1, 1))
			p[2] = float32(128 + 100*math.Sin(float64(x*y)/7))
		}
	}
	return t
}

func TestReceptiveRadiusOfESRGAN(t *testing.T) {
	// Counted by hand from the model topologies. Before the upsampling, the
	// longest path crosses the 3×3 convolutions F_m1, F_0, one per residual
	// dense block (2 in slim, 10 in medium), GFF_2, UPN2 and UPN3, each of
	// radius 1, and the 5×5 UPN1 of radius 2. That sums to 9 for slim and 17
	// for medium. After the upsampling, the 3×3 SR convolution reaches one
	// output pixel, which is 1/scale input pixels.
	tests := []struct {
		pkg, path string
		want      float64
	}{
		{testfiles.ESRGANSlim, "models/x2/model.json", 9 + 1.0/2},
		{testfiles.ESRGANSlim, "models/x3/model.json", 9 + 1.0/3},
		{testfiles.ESRGANSlim, "models/x4/model.json", 9 + 1.0/4},
		{testfiles.ESRGANMedium, "models/x4/model.json", 17 + 1.0/4},
	}
	for _, tt := range tests {
		t.Run(tt.pkg+"/"+tt.path, func(t *testing.T) {
			g := loadModel(t, tt.pkg, tt.path).Graph
			if got := g.ReceptiveRadius(); math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("ReceptiveRadius() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReceptiveRadiusBoundsInfluence(t *testing.T) {
	// Changing one input pixel must leave every output pixel unchanged whose
	// source position is more than the receptive radius away from it.
	m := loadModel(t, testfiles.ESRGANSlim, "models/x2/model.json")
	cm, err := nn.Compile(m.Graph, nn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const size, py, px = 32, 16, 16
	in := imageTensor(size, size)
	base, err := cm.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	in.Data[(py*size+px)*3+1] += 40
	changed, err := cm.Run(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	radius := m.Graph.ReceptiveRadius()
	scale := int(m.Graph.Scale())
	ow := size * scale
	// Output pixel (y, x) lies in input pixel (y/scale, x/scale). A tile
	// padded by ceil(radius) input pixels must contain every input pixel
	// that reaches it, and the radius should not overstate the reach.
	reach := 0
	for i := range base.Data {
		if base.Data[i] != changed.Data[i] {
			p := i / 3
			reach = max(reach, abs(p/ow/scale-py), abs(p%ow/scale-px))
		}
	}
	if limit := int(math.Ceil(radius)); reach > limit || reach < limit-1 {
		t.Errorf("an input pixel changes outputs up to %d input pixels away, want %d or %d for ReceptiveRadius() = %v", reach, limit-1, limit, radius)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestRealModelThreadsAgree(t *testing.T) {
	for _, tt := range []struct{ pkg, path string }{
		{testfiles.ESRGANSlim, "models/x4/model.json"},
		{testfiles.DefaultModel, "models/model.json"},
		{testfiles.ESRGANLegacy, "models/gans/model.json"},
	} {
		t.Run(tt.pkg+"/"+tt.path, func(t *testing.T) {
			if testing.Short() && tt.path == "models/gans/model.json" {
				t.Skip("the RRDN gans model takes seconds to load and run")
			}
			m := loadModel(t, tt.pkg, tt.path)
			in := imageTensor(16, 12)
			var outs []*tensor.Tensor
			for _, threads := range []int{1, 2} {
				cm, err := nn.Compile(m.Graph, nn.Options{Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				out, err := cm.Run(context.Background(), in)
				if err != nil {
					t.Fatal(err)
				}
				if err := out.CheckFinite(); err != nil {
					t.Fatal(err)
				}
				outs = append(outs, out)
			}
			if !slices.Equal(outs[0].Data, outs[1].Data) {
				t.Error("outputs with 1 and 2 threads differ")
			}
			// A super-resolution model keeps the image's brightness: the
			// mean output is near the mean input.
			var inMean, outMean float64
			for _, v := range in.Data {
				inMean += float64(v)
			}
			for _, v := range outs[0].Data {
				outMean += float64(v)
			}
			inMean /= float64(len(in.Data))
			outMean /= float64(len(outs[0].Data))
			if math.Abs(inMean-outMean) > 25 {
				t.Errorf("mean output %.1f, mean input %.1f", outMean, inMean)
			}
		})
	}
}

func TestRunCanceledDuringRealModel(t *testing.T) {
	m := loadModel(t, testfiles.ESRGANMedium, "models/x4/model.json")
	cm, err := nn.Compile(m.Graph, nn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// 128×128 takes seconds on any current CPU; the call is canceled after
	// 50 ms, mid-way through.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := imageTensor(128, 128)
	type result struct {
		out *tensor.Tensor
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		out, err := cm.Run(ctx, in)
		done <- result{out, err}
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	canceled := time.Now()
	r := <-done
	if r.err == nil {
		t.Skipf("Run finished in %v, before it was canceled", time.Since(start))
	}
	if r.out != nil || !errors.Is(r.err, context.Canceled) {
		t.Errorf("Run = %v, %v; want nil, context.Canceled", r.out, r.err)
	}
	if d := time.Since(canceled); d > 2*time.Second {
		t.Errorf("Run returned %v after the cancel; layers must check the context", d)
	}
}
