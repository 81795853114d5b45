package nn_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/upscaler-go/upscaler/internal/testfiles"
	"github.com/upscaler-go/upscaler/nn"
	"github.com/upscaler-go/upscaler/tensor"
	"github.com/upscaler-go/upscaler/tfjs"
)

// benchSize is the height and width of the benchmark inputs.
const benchSize = 128

// kernelShapes returns the shape of every "<layer>/kernel" weight of the
// model at path in pkg, by layer name, read from its weights manifest.
func kernelShapes(b *testing.B, pkg, path string) map[string][]int {
	b.Helper()
	p, err := tfjs.OpenPackage(testfiles.Package(b, pkg))
	if err != nil {
		b.Fatal(err)
	}
	data, err := p.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	mj, err := tfjs.ParseModelJSON(data)
	if err != nil {
		b.Fatal(err)
	}
	shapes := map[string][]int{}
	for _, g := range mj.WeightsManifest {
		for _, w := range g.Weights {
			if layer, ok := strings.CutSuffix(w.Name, "/kernel"); ok {
				shapes[layer] = w.Shape
			}
		}
	}
	return shapes
}

// BenchmarkConv2D runs each distinct convolution of esrgan-slim x4 and
// esrgan-medium x4, with the models' weights, on a 128×128 feature map.
// "run" goes through a one-layer compiled model on DefaultThreads
// goroutines and includes the output allocation. "forward" calls Forward
// directly on one goroutine, into a reused buffer.
func BenchmarkConv2D(b *testing.B) {
	for _, model := range []struct{ name, pkg, path string }{
		{"slim-x4", testfiles.ESRGANSlim, "models/x4/model.json"},
		{"medium-x4", testfiles.ESRGANMedium, "models/x4/model.json"},
		{"thick-x4", testfiles.ESRGANThick, "models/x4/model.json"},
	} {
		b.Run(model.name, func(b *testing.B) {
			m := loadModel(b, model.pkg, model.path)
			shapes := kernelShapes(b, model.pkg, model.path)
			seen := map[[4]int]bool{}
			for _, n := range m.Graph.Nodes() {
				conv, ok := n.Layer().(*nn.Conv2D)
				if !ok {
					continue
				}
				s := shapes[n.Name()]
				if len(s) != 4 {
					b.Fatalf("layer %s has kernel shape %v", n.Name(), s)
				}
				key := [4]int(s)
				if seen[key] {
					continue
				}
				seen[key] = true
				name := fmt.Sprintf("%dx%dx%dx%d", s[0], s[1], s[2], s[3])
				b.Run(name+"/run", func(b *testing.B) { benchConvRun(b, conv, s) })
				b.Run(name+"/forward", func(b *testing.B) { benchConvForward(b, conv, s) })
			}
		})
	}
}

// convFLOPs returns the multiply-adds, counted as two operations, of a
// stride-1 "same" convolution with kernel shape s over a benchSize² map.
func convFLOPs(s []int) float64 {
	return 2 * float64(benchSize*benchSize) * float64(s[0]*s[1]*s[2]*s[3])
}

func reportGFLOPs(b *testing.B, flops float64) {
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func randomInput(h, w, c int) *tensor.Tensor {
	r := rand.New(rand.NewPCG(1, 2))
	t := tensor.New(h, w, c)
	for i := range t.Data {
		t.Data[i] = r.Float32()
	}
	return t
}

func benchConvRun(b *testing.B, conv *nn.Conv2D, s []int) {
	bld := nn.NewBuilder()
	in := bld.Input("in", nn.Shape{H: nn.Dynamic, W: nn.Dynamic, C: s[2]})
	g, err := bld.Build(bld.Add("conv", conv, in))
	if err != nil {
		b.Fatal(err)
	}
	m, err := nn.Compile(g, nn.Options{})
	if err != nil {
		b.Fatal(err)
	}
	x := randomInput(benchSize, benchSize, s[2])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Run(context.Background(), x); err != nil {
			b.Fatal(err)
		}
	}
	reportGFLOPs(b, convFLOPs(s))
}

func benchConvForward(b *testing.B, conv *nn.Conv2D, s []int) {
	x := randomInput(benchSize, benchSize, s[2])
	in := nn.View{Data: x.Data, H: benchSize, W: benchSize, C: s[2], Stride: s[2]}
	out := nn.View{Data: make([]float32, benchSize*benchSize*s[3]), H: benchSize, W: benchSize, C: s[3], Stride: s[3]}
	// The zero Env runs on one goroutine: nn has no exported way to set
	// an Env's thread count.
	env := &nn.Env{}
	b.ReportAllocs()
	for b.Loop() {
		if err := conv.Forward(context.Background(), env, []nn.View{in}, out); err != nil {
			b.Fatal(err)
		}
	}
	reportGFLOPs(b, convFLOPs(s))
}

// BenchmarkModel runs whole models on a 128×128 RGB image and reports the
// output pixels per second.
func BenchmarkModel(b *testing.B) {
	for _, model := range []struct{ name, pkg, path string }{
		{"slim-x2", testfiles.ESRGANSlim, "models/x2/model.json"},
		{"slim-x4", testfiles.ESRGANSlim, "models/x4/model.json"},
		{"medium-x4", testfiles.ESRGANMedium, "models/x4/model.json"},
		{"thick-x4", testfiles.ESRGANThick, "models/x4/model.json"},
	} {
		b.Run(fmt.Sprintf("%s/%dx%d", model.name, benchSize, benchSize), func(b *testing.B) {
			m := loadModel(b, model.pkg, model.path)
			cm, err := nn.Compile(m.Graph, nn.Options{})
			if err != nil {
				b.Fatal(err)
			}
			out, err := cm.OutputShape(benchSize, benchSize)
			if err != nil {
				b.Fatal(err)
			}
			x := imageTensor(benchSize, benchSize)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cm.Run(context.Background(), x); err != nil {
					b.Fatal(err)
				}
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(sec*1e3/float64(b.N), "ms/op")
			b.ReportMetric(float64(out.H*out.W*b.N)/sec, "px/s")
		})
	}
}
