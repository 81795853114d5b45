package nn

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/upscaler-go/upscaler/tensor"
)

// This file holds plain reference implementations of the layers, written
// from the TensorFlow definitions with float64 accumulation, and helpers to
// compare a layer's Forward with them on strided views.

// gap is the value written between the pixels of a strided view. A layer
// that reads a gap produces NaN; one that writes a gap is caught by
// checkGaps.
var gap = float32(math.NaN())

// grid is a contiguous h×w×c feature map in float64.
type grid struct {
	h, w, c int
	data    []float64
}

func newGrid(h, w, c int) *grid { return &grid{h: h, w: w, c: c, data: make([]float64, h*w*c)} }

func (g *grid) at(y, x, c int) float64     { return g.data[(y*g.w+x)*g.c+c] }
func (g *grid) set(y, x, c int, v float64) { g.data[(y*g.w+x)*g.c+c] = v }

// randomView returns an h×w×c view with the given stride (at least c),
// random values in [-1, 1) and gap in the floats between pixels, and the
// same values as a grid.
func randomView(r *rand.Rand, h, w, c, stride int) (View, *grid) {
	v := View{Data: make([]float32, (h*w-1)*stride+c), H: h, W: w, C: c, Stride: stride}
	for i := range v.Data {
		v.Data[i] = gap
	}
	g := newGrid(h, w, c)
	for p := range h * w {
		for ch := range c {
			x := float32(r.Float64()*2 - 1)
			v.Data[p*stride+ch] = x
			g.data[p*c+ch] = float64(x)
		}
	}
	return v, g
}

// emptyView returns an h×w×c output view with the given stride, every
// float set to gap.
func emptyView(h, w, c, stride int) View {
	v := View{Data: make([]float32, (h*w-1)*stride+c), H: h, W: w, C: c, Stride: stride}
	for i := range v.Data {
		v.Data[i] = gap
	}
	return v
}

// randomTensor returns a tensor of the given shape with values in
// [-scale, scale).
func randomTensor(r *rand.Rand, scale float64, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32((r.Float64()*2 - 1) * scale)
	}
	return t
}

func randomSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.Float64()*2 - 1)
	}
	return s
}

// forward runs l on the inputs into out with an Env of the given threads.
func forward(t *testing.T, l Layer, threads int, out View, in ...View) {
	t.Helper()
	shapes := make([]Shape, len(in))
	for i, v := range in {
		shapes[i] = v.Shape()
	}
	s, err := l.OutputShape(shapes)
	if err != nil {
		t.Fatalf("%s.OutputShape(%v): %v", l.Class(), shapes, err)
	}
	if s != out.Shape() {
		t.Fatalf("%s.OutputShape(%v) = %v, want %v", l.Class(), shapes, s, out.Shape())
	}
	env := &Env{threads: threads}
	if err := l.Forward(context.Background(), env, in, out); err != nil {
		t.Fatalf("%s.Forward: %v", l.Class(), err)
	}
}

// checkView compares v with want element by element: the difference may be
// at most tol(i) for element i of want.
func checkView(t *testing.T, what string, v View, want *grid, tol func(i int) float64) {
	t.Helper()
	if v.H != want.h || v.W != want.w || v.C != want.c {
		t.Fatalf("%s has shape %v, want [%d, %d, %d]", what, v.Shape(), want.h, want.w, want.c)
	}
	bad := 0
	for p := range v.H * v.W {
		for c := range v.C {
			i := p*v.C + c
			got := float64(v.Data[p*v.Stride+c])
			if !(math.Abs(got-want.data[i]) <= tol(i)) {
				if bad < 5 {
					t.Errorf("%s at (%d, %d) channel %d = %v, want %v", what, p/v.W, p%v.W, c, got, want.data[i])
				}
				bad++
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %d of %d values differ", what, bad, len(want.data))
	}
	checkGaps(t, what, v)
}

// checkGaps fails if anything was written between the pixels of v.
func checkGaps(t *testing.T, what string, v View) {
	t.Helper()
	for p := range v.H*v.W - 1 {
		for i := p*v.Stride + v.C; i < (p+1)*v.Stride; i++ {
			if !math.IsNaN(float64(v.Data[i])) {
				t.Fatalf("%s: float %d, between pixels %d and %d, was overwritten with %v", what, i, p, p+1, v.Data[i])
			}
		}
	}
}

func exact(int) float64 { return 0 }

// convGeometry returns the output size and leading padding of one axis as
// TensorFlow defines them. "valid" keeps every window inside the input.
// "same" gives ceil(in/stride) outputs and pads the total shortfall, with
// the odd pixel at the end.
func convGeometry(in, k, stride, dilation int, same bool) (out, padBefore int) {
	span := dilation*(k-1) + 1
	if !same {
		return (in-span)/stride + 1, 0
	}
	out = (in + stride - 1) / stride
	need := (out-1)*stride + span - in
	if need < 0 {
		need = 0
	}
	return out, need / 2
}

// refConv computes a convolution with kernel [kh, kw, in, out] in float64.
// It returns the output and, per element, the sum of the absolute values
// of its terms, which bounds the float32 rounding error.
func refConv(in *grid, kernel *tensor.Tensor, bias []float32, sh, sw, dh, dw int, same bool) (out, mag *grid) {
	kh, kw, inC, outC := kernel.Shape[0], kernel.Shape[1], kernel.Shape[2], kernel.Shape[3]
	oh, pt := convGeometry(in.h, kh, sh, dh, same)
	ow, pl := convGeometry(in.w, kw, sw, dw, same)
	out, mag = newGrid(oh, ow, outC), newGrid(oh, ow, outC)
	for y := range oh {
		for x := range ow {
			for o := range outC {
				var sum, abs float64
				if bias != nil {
					sum, abs = float64(bias[o]), math.Abs(float64(bias[o]))
				}
				for ky := range kh {
					for kx := range kw {
						iy, ix := y*sh-pt+ky*dh, x*sw-pl+kx*dw
						if iy < 0 || iy >= in.h || ix < 0 || ix >= in.w {
							continue
						}
						for c := range inC {
							term := in.at(iy, ix, c) * float64(kernel.Data[((ky*kw+kx)*inC+c)*outC+o])
							sum += term
							abs += math.Abs(term)
						}
					}
				}
				out.set(y, x, o, sum)
				mag.set(y, x, o, abs)
			}
		}
	}
	return out, mag
}

// refDepthwise computes a depthwise convolution with kernel [kh, kw, in,
// mult]: output channel c·mult+m is input channel c convolved with filter m.
func refDepthwise(in *grid, kernel *tensor.Tensor, bias []float32, sh, sw, dh, dw int, same bool) (out, mag *grid) {
	kh, kw, inC, mult := kernel.Shape[0], kernel.Shape[1], kernel.Shape[2], kernel.Shape[3]
	oh, pt := convGeometry(in.h, kh, sh, dh, same)
	ow, pl := convGeometry(in.w, kw, sw, dw, same)
	out, mag = newGrid(oh, ow, inC*mult), newGrid(oh, ow, inC*mult)
	for y := range oh {
		for x := range ow {
			for c := range inC {
				for m := range mult {
					o := c*mult + m
					var sum, abs float64
					if bias != nil {
						sum, abs = float64(bias[o]), math.Abs(float64(bias[o]))
					}
					for ky := range kh {
						for kx := range kw {
							iy, ix := y*sh-pt+ky*dh, x*sw-pl+kx*dw
							if iy < 0 || iy >= in.h || ix < 0 || ix >= in.w {
								continue
							}
							term := in.at(iy, ix, c) * float64(kernel.Data[((ky*kw+kx)*inC+c)*mult+m])
							sum += term
							abs += math.Abs(term)
						}
					}
					out.set(y, x, o, sum)
					mag.set(y, x, o, abs)
				}
			}
		}
	}
	return out, mag
}

// refActivations are the Keras and TensorFlow.js activation functions,
// written from their definitions.
var refActivations = map[string]func(x float64) float64{
	"linear": func(x float64) float64 { return x },
	"relu":   func(x float64) float64 { return math.Max(x, 0) },
	"relu6":  func(x float64) float64 { return math.Min(math.Max(x, 0), 6) },
	"sigmoid": func(x float64) float64 {
		return 1 / (1 + math.Exp(-x))
	},
	"hard_sigmoid": func(x float64) float64 { return math.Min(math.Max(0.2*x+0.5, 0), 1) },
	"tanh":         math.Tanh,
	"elu": func(x float64) float64 {
		if x > 0 {
			return x
		}
		return math.Exp(x) - 1
	},
	"selu": func(x float64) float64 {
		// SELU's α and λ, to the digits Keras writes them.
		const alpha, scale = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
		if x > 0 {
			return scale * x
		}
		return scale * alpha * (math.Exp(x) - 1)
	},
	"softplus": func(x float64) float64 { return math.Log(1 + math.Exp(x)) },
	"softsign": func(x float64) float64 { return x / (1 + math.Abs(x)) },
	"swish":    func(x float64) float64 { return x / (1 + math.Exp(-x)) },
	"gelu":     func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) },
}

// apply returns f applied to every element of g.
func (g *grid) apply(f func(float64) float64) *grid {
	out := newGrid(g.h, g.w, g.c)
	for i, v := range g.data {
		out.data[i] = f(v)
	}
	return out
}
