package nn

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/upscaler-go/upscaler/internal/gemm"
)

// Func is an elementwise activation function.
type Func struct {
	name  string
	f     func(float32) float32
	gemm  gemm.Activation // the equivalent GEMM epilogue, when fusable
	alpha float32
	fuse  bool
}

// Name returns the function's name.
func (a Func) Name() string { return a.name }

// Apply returns the function's value at x.
func (a Func) Apply(x float32) float32 { return a.f(x) }

func (a Func) linear() bool { return a.name == "linear" }

// Keras's SELU constants.
const (
	seluAlpha = 1.6732632423543772848170429916717
	seluScale = 1.0507009873554804934193349852946
)

func sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }

// activations maps Keras activation names to functions.
var activations = map[string]Func{
	"linear":  {f: func(x float32) float32 { return x }, gemm: gemm.Linear, fuse: true},
	"relu":    {f: func(x float32) float32 { return max(x, 0) }, gemm: gemm.ReLU, fuse: true},
	"relu6":   {f: func(x float32) float32 { return min(max(x, 0), 6) }, gemm: gemm.ReLU6, fuse: true},
	"sigmoid": {f: sigmoid},
	// TensorFlow.js's hard sigmoid is the piecewise-linear clip(0.2x + 0.5, 0, 1).
	"hard_sigmoid": {f: func(x float32) float32 { return min(max(0.2*x+0.5, 0), 1) }},
	"tanh":         {f: func(x float32) float32 { return float32(math.Tanh(float64(x))) }},
	"elu":          {f: eluFunc(1)},
	"selu": {f: func(x float32) float32 {
		if x > 0 {
			return seluScale * x
		}
		return float32(seluScale * seluAlpha * math.Expm1(float64(x)))
	}},
	"softplus": {f: func(x float32) float32 {
		// log(1 + e^x) without overflow for large x.
		v := float64(x)
		return float32(max(v, 0) + math.Log1p(math.Exp(-math.Abs(v))))
	}},
	"softsign": {f: func(x float32) float32 { return x / (1 + float32(math.Abs(float64(x)))) }},
	"swish":    {f: func(x float32) float32 { return x * sigmoid(x) }},
	"gelu": {f: func(x float32) float32 {
		return float32(0.5 * float64(x) * (1 + math.Erf(float64(x)/math.Sqrt2)))
	}},
}

func eluFunc(alpha float64) func(float32) float32 {
	return func(x float32) float32 {
		if x > 0 {
			return x
		}
		return float32(alpha * math.Expm1(float64(x)))
	}
}

func init() {
	for name, a := range activations {
		a.name = name
		activations[name] = a
	}
}

// LookupFunc returns the activation with the given Keras name. An empty name
// means linear.
func LookupFunc(name string) (Func, error) {
	if name == "" {
		name = "linear"
	}
	a, ok := activations[name]
	if !ok {
		names := slices.Sorted(maps.Keys(activations))
		return Func{}, fmt.Errorf("%w activation %q (supported: %v)", ErrUnsupported, name, names)
	}
	return a, nil
}

// LeakyReLUFunc returns max(x, 0) + alpha·min(x, 0).
func LeakyReLUFunc(alpha float32) Func {
	return Func{name: "leaky_relu", alpha: alpha, gemm: gemm.LeakyReLU, fuse: true, f: func(x float32) float32 {
		if x < 0 {
			return alpha * x
		}
		return x
	}}
}

// ELUFunc returns x for x > 0 and alpha·(e^x − 1) otherwise.
func ELUFunc(alpha float32) Func { return Func{name: "elu", f: eluFunc(float64(alpha))} }

// ReLUFunc returns the Keras ReLU layer's function: maxValue caps the output
// (a negative maxValue means no cap), values below threshold become
// negativeSlope·(x − threshold).
func ReLUFunc(maxValue, negativeSlope, threshold float32) Func {
	switch {
	case negativeSlope == 0 && threshold == 0 && maxValue < 0:
		return activations["relu"]
	case negativeSlope == 0 && threshold == 0 && maxValue == 6:
		return activations["relu6"]
	case threshold == 0 && maxValue < 0:
		return LeakyReLUFunc(negativeSlope)
	}
	return Func{name: "relu", f: func(x float32) float32 {
		if maxValue >= 0 && x >= maxValue {
			return maxValue
		}
		if x >= threshold {
			return x
		}
		return negativeSlope * (x - threshold)
	}}
}

// Activation applies an elementwise function. Its class name is given by
// the loader ("Activation", "ReLU", "LeakyReLU", "ELU"), for errors.
type Activation struct {
	ClassName string
	Func      Func
}

func (a *Activation) Class() string { return a.ClassName }

func (a *Activation) OutputShape(in []Shape) (Shape, error) { return oneInput(in) }

func (a *Activation) Forward(_ context.Context, _ *Env, in []View, out View) error {
	src := in[0]
	f := a.Func.f
	for p := range out.H * out.W {
		s, d := src.Pixel(p), out.Pixel(p)
		for c, v := range s {
			d[c] = f(v)
		}
	}
	return nil
}

// fusableActivation is implemented by layers that a convolution can apply
// while it stores its output.
type fusableActivation interface {
	fusable() (Func, bool)
}

func (a *Activation) fusable() (Func, bool) { return a.Func, a.Func.fuse }

// PReLU is max(x, 0) + alpha[c]·min(x, 0) with one learned slope per
// channel.
type PReLU struct {
	Alpha []float32 // one per channel
}

func (*PReLU) Class() string { return "PReLU" }

func (l *PReLU) OutputShape(in []Shape) (Shape, error) {
	s, err := oneInput(in)
	if err == nil && s.C != len(l.Alpha) {
		err = fmt.Errorf("alpha has %d values but the input has %d channels", len(l.Alpha), s.C)
	}
	return s, err
}

func (l *PReLU) Forward(_ context.Context, _ *Env, in []View, out View) error {
	for p := range out.H * out.W {
		s, d := in[0].Pixel(p), out.Pixel(p)
		for c, v := range s {
			if v < 0 {
				v *= l.Alpha[c]
			}
			d[c] = v
		}
	}
	return nil
}
