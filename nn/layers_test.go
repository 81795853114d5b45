package nn

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/upscaler-go/upscaler/tensor"
)

// convTol returns a tolerance for values computed in float32 whose terms
// have absolute sum mag: a few float32 roundings of the largest partial sum.
func convTol(mag *grid, slope float64) func(int) float64 {
	return func(i int) float64 { return slope * (1e-5*mag.data[i] + 1e-6) }
}

func TestConv2DMatchesReference(t *testing.T) {
	type convCase struct {
		k, stride, dilation int
		same, bias          bool
		act                 string
		h, w, inC, outC     int
		inStride, outStride int
	}
	var cases []convCase
	// Every kernel size, stride and padding on an odd-sized image.
	for _, k := range []int{1, 2, 3, 5} {
		for _, stride := range []int{1, 2} {
			for _, same := range []bool{true, false} {
				cases = append(cases, convCase{k: k, stride: stride, dilation: 1, same: same, bias: true, act: "linear", h: 7, w: 5, inC: 3, outC: 5})
			}
		}
	}
	// Dilation, no bias, strided views and a larger image that spans
	// several GEMM chunks and workers.
	cases = append(cases,
		convCase{k: 3, stride: 1, dilation: 2, same: true, bias: true, act: "linear", h: 9, w: 7, inC: 4, outC: 3},
		convCase{k: 3, stride: 1, dilation: 2, same: false, bias: false, act: "linear", h: 9, w: 7, inC: 4, outC: 3},
		convCase{k: 2, stride: 1, dilation: 2, same: true, bias: true, act: "relu", h: 6, w: 5, inC: 2, outC: 2},
		convCase{k: 3, stride: 1, dilation: 1, same: true, bias: false, act: "linear", h: 7, w: 5, inC: 3, outC: 5},
		convCase{k: 3, stride: 1, dilation: 1, same: true, bias: true, act: "relu", h: 7, w: 5, inC: 3, outC: 5, inStride: 7, outStride: 9},
		convCase{k: 1, stride: 1, dilation: 1, same: false, bias: true, act: "linear", h: 7, w: 5, inC: 3, outC: 5, inStride: 8, outStride: 6},
		convCase{k: 1, stride: 2, dilation: 1, same: true, bias: true, act: "linear", h: 7, w: 5, inC: 3, outC: 5, inStride: 4, outStride: 11},
		convCase{k: 5, stride: 2, dilation: 1, same: true, bias: true, act: "sigmoid", h: 8, w: 9, inC: 3, outC: 4, inStride: 5, outStride: 7},
		convCase{k: 3, stride: 1, dilation: 1, same: true, bias: true, act: "relu", h: 37, w: 29, inC: 17, outC: 33},
		convCase{k: 1, stride: 1, dilation: 1, same: true, bias: true, act: "relu6", h: 37, w: 29, inC: 70, outC: 9, inStride: 75, outStride: 12},
	)
	// Every activation, fused into the GEMM or applied after it.
	for _, name := range slices.Sorted(maps.Keys(refActivations)) {
		cases = append(cases, convCase{k: 3, stride: 1, dilation: 1, same: true, bias: true, act: name, h: 5, w: 6, inC: 3, outC: 4, outStride: 6})
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range cases {
		pad := "valid"
		if tc.same {
			pad = "same"
		}
		name := fmt.Sprintf("k%d_s%d_d%d_%s_bias%v_%s_%dx%dx%d-%d_strides%d,%d", tc.k, tc.stride, tc.dilation, pad, tc.bias, tc.act, tc.h, tc.w, tc.inC, tc.outC, tc.inStride, tc.outStride)
		t.Run(name, func(t *testing.T) {
			kernel := randomTensor(r, 1, tc.k, tc.k, tc.inC, tc.outC)
			var bias []float32
			if tc.bias {
				bias = randomSlice(r, tc.outC)
			}
			act, err := LookupFunc(tc.act)
			if err != nil {
				t.Fatal(err)
			}
			cfg := ConvConfig{StrideH: tc.stride, StrideW: tc.stride, DilationH: tc.dilation, DilationW: tc.dilation, Activation: act}
			if tc.same {
				cfg.Padding = Same
			}
			conv, err := NewConv2D(kernel, bias, cfg)
			if err != nil {
				t.Fatal(err)
			}
			in, inGrid := randomView(r, tc.h, tc.w, tc.inC, max(tc.inStride, tc.inC))
			want, mag := refConv(inGrid, kernel, bias, tc.stride, tc.stride, tc.dilation, tc.dilation, tc.same)
			want = want.apply(refActivations[tc.act])
			for _, threads := range []int{1, 3} {
				out := emptyView(want.h, want.w, want.c, max(tc.outStride, tc.outC))
				forward(t, conv, threads, out, in)
				checkView(t, fmt.Sprintf("output with %d threads", threads), out, want, convTol(mag, 2))
			}
		})
	}
}

func TestDepthwiseConv2DMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		k, mult, stride, dilation int
		same, bias                bool
		act                       string
		inStride, outStride       int
	}{
		{k: 3, mult: 1, stride: 1, dilation: 1, same: true, bias: true, act: "linear"},
		{k: 3, mult: 2, stride: 1, dilation: 1, same: true, bias: true, act: "relu"},
		{k: 5, mult: 2, stride: 2, dilation: 1, same: true, bias: false, act: "tanh", inStride: 5, outStride: 9},
		{k: 2, mult: 1, stride: 2, dilation: 1, same: false, bias: true, act: "linear"},
		{k: 3, mult: 3, stride: 1, dilation: 2, same: false, bias: true, act: "elu", inStride: 4, outStride: 10},
	} {
		name := fmt.Sprintf("k%d_m%d_s%d_d%d_same%v_bias%v_%s", tc.k, tc.mult, tc.stride, tc.dilation, tc.same, tc.bias, tc.act)
		t.Run(name, func(t *testing.T) {
			const h, w, c = 9, 7, 3
			kernel := randomTensor(r, 1, tc.k, tc.k, c, tc.mult)
			var bias []float32
			if tc.bias {
				bias = randomSlice(r, c*tc.mult)
			}
			act, err := LookupFunc(tc.act)
			if err != nil {
				t.Fatal(err)
			}
			cfg := ConvConfig{StrideH: tc.stride, StrideW: tc.stride, DilationH: tc.dilation, DilationW: tc.dilation, Activation: act}
			if tc.same {
				cfg.Padding = Same
			}
			dw, err := NewDepthwiseConv2D(kernel, bias, cfg)
			if err != nil {
				t.Fatal(err)
			}
			in, inGrid := randomView(r, h, w, c, max(tc.inStride, c))
			want, mag := refDepthwise(inGrid, kernel, bias, tc.stride, tc.stride, tc.dilation, tc.dilation, tc.same)
			want = want.apply(refActivations[tc.act])
			for _, threads := range []int{1, 2} {
				out := emptyView(want.h, want.w, want.c, max(tc.outStride, want.c))
				forward(t, dw, threads, out, in)
				checkView(t, fmt.Sprintf("output with %d threads", threads), out, want, convTol(mag, 2))
			}
		})
	}
}

func TestSeparableConv2DMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		k, mult, stride int
		act             string
		outStride       int
	}{
		{k: 3, mult: 1, stride: 1, act: "relu"},
		{k: 3, mult: 2, stride: 2, act: "sigmoid", outStride: 7},
		{k: 5, mult: 1, stride: 1, act: "linear", outStride: 9},
	} {
		t.Run(fmt.Sprintf("k%d_m%d_s%d_%s", tc.k, tc.mult, tc.stride, tc.act), func(t *testing.T) {
			const h, w, c, outC = 8, 7, 3, 4
			depthwise := randomTensor(r, 1, tc.k, tc.k, c, tc.mult)
			pointwise := randomTensor(r, 1, 1, 1, c*tc.mult, outC)
			bias := randomSlice(r, outC)
			act, err := LookupFunc(tc.act)
			if err != nil {
				t.Fatal(err)
			}
			sep, err := NewSeparableConv2D(depthwise, pointwise, bias, ConvConfig{StrideH: tc.stride, StrideW: tc.stride, Padding: Same, Activation: act})
			if err != nil {
				t.Fatal(err)
			}
			in, inGrid := randomView(r, h, w, c, c)
			mid, midMag := refDepthwise(inGrid, depthwise, nil, tc.stride, tc.stride, 1, 1, true)
			want, mag := refConv(mid, pointwise, bias, 1, 1, 1, 1, true)
			// The depthwise step's float32 rounding reaches the output through
			// at most c·mult pointwise weights of magnitude at most 1.
			midErr := 1e-5 * slices.Max(midMag.data) * float64(c*tc.mult)
			tol := func(i int) float64 { return 2 * (1e-5*mag.data[i] + midErr + 1e-6) }
			want = want.apply(refActivations[tc.act])
			for _, threads := range []int{1, 3} {
				out := emptyView(want.h, want.w, want.c, max(tc.outStride, outC))
				forward(t, sep, threads, out, in)
				checkView(t, fmt.Sprintf("output with %d threads", threads), out, want, tol)
			}
		})
	}
}

func TestConvConstructorsRejectBadWeights(t *testing.T) {
	k := tensor.New(3, 3, 2, 4)
	tests := []struct {
		name string
		make func() error
	}{
		{"conv rank 3 kernel", func() error { _, err := NewConv2D(tensor.New(3, 3, 2), nil, ConvConfig{}); return err }},
		{"conv empty dimension", func() error { _, err := NewConv2D(tensor.New(3, 0, 2, 4), nil, ConvConfig{}); return err }},
		{"conv bias length", func() error { _, err := NewConv2D(k, make([]float32, 3), ConvConfig{}); return err }},
		{"depthwise rank 2 kernel", func() error { _, err := NewDepthwiseConv2D(tensor.New(3, 3), nil, ConvConfig{}); return err }},
		{"depthwise bias length", func() error { _, err := NewDepthwiseConv2D(k, make([]float32, 4), ConvConfig{}); return err }},
		{"separable pointwise not 1×1", func() error {
			_, err := NewSeparableConv2D(tensor.New(3, 3, 2, 1), tensor.New(3, 3, 2, 4), nil, ConvConfig{})
			return err
		}},
		{"separable pointwise channels", func() error {
			_, err := NewSeparableConv2D(tensor.New(3, 3, 2, 2), tensor.New(1, 1, 2, 4), nil, ConvConfig{})
			return err
		}},
	}
	for _, tt := range tests {
		if err := tt.make(); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

// refUpsample computes UpSampling2D as TensorFlow.js does. Nearest repeats
// pixels. Bilinear is resizeBilinear with alignCorners and halfPixelCenters
// false, so output row y samples input row y·in/out, which is computed here
// exactly, as a fraction.
func refUpsample(in *grid, sh, sw int, bilinear bool) *grid {
	out := newGrid(in.h*sh, in.w*sw, in.c)
	for y := range out.h {
		for x := range out.w {
			for c := range in.c {
				if !bilinear {
					out.set(y, x, c, in.at(y/sh, x/sw, c))
					continue
				}
				y0, x0 := y*in.h/out.h, x*in.w/out.w
				fy := float64(y*in.h-y0*out.h) / float64(out.h)
				fx := float64(x*in.w-x0*out.w) / float64(out.w)
				y1, x1 := min(y0+1, in.h-1), min(x0+1, in.w-1)
				top := in.at(y0, x0, c) + (in.at(y0, x1, c)-in.at(y0, x0, c))*fx
				bottom := in.at(y1, x0, c) + (in.at(y1, x1, c)-in.at(y1, x0, c))*fx
				out.set(y, x, c, top+(bottom-top)*fy)
			}
		}
	}
	return out
}

func TestUpSampling2DMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct {
		sh, sw   int
		bilinear bool
		h, w, c  int
		strides  [2]int
	}{
		{2, 2, false, 5, 3, 3, [2]int{3, 3}},
		{3, 2, false, 4, 5, 2, [2]int{5, 4}},
		{2, 2, true, 5, 3, 3, [2]int{3, 3}},
		{4, 4, true, 3, 4, 2, [2]int{2, 7}},
		{3, 5, true, 7, 3, 1, [2]int{4, 1}},
		{8, 8, true, 2, 3, 3, [2]int{3, 3}},
	} {
		t.Run(fmt.Sprintf("%dx%d_bilinear%v_%dx%dx%d", tc.sh, tc.sw, tc.bilinear, tc.h, tc.w, tc.c), func(t *testing.T) {
			u := &UpSampling2D{SizeH: tc.sh, SizeW: tc.sw}
			if tc.bilinear {
				u.Interpolation = Bilinear
			}
			in, inGrid := randomView(r, tc.h, tc.w, tc.c, tc.strides[0])
			want := refUpsample(inGrid, tc.sh, tc.sw, tc.bilinear)
			tol := exact
			if tc.bilinear {
				tol = func(int) float64 { return 1e-6 }
			}
			for _, threads := range []int{1, 2} {
				out := emptyView(want.h, want.w, want.c, tc.strides[1])
				forward(t, u, threads, out, in)
				checkView(t, "output", out, want, tol)
			}
		})
	}
}

func TestUpSampling2DBilinearByHand(t *testing.T) {
	// A 1×2 row [0, 10] doubled: output x samples input x·2/4 = 0, 0.5, 1,
	// 1.5, and the last two clamp to the right edge.
	u := &UpSampling2D{SizeH: 1, SizeW: 2, Interpolation: Bilinear}
	in := View{Data: []float32{0, 10}, H: 1, W: 2, C: 1, Stride: 1}
	out := emptyView(1, 4, 1, 1)
	forward(t, u, 1, out, in)
	if want := []float32{0, 5, 10, 10}; !slices.Equal(out.Data, want) {
		t.Errorf("bilinear [0 10] × 2 = %v, want %v", out.Data, want)
	}
}

func TestPaddingAndCropping(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const h, w, c = 4, 5, 3
	in, g := randomView(r, h, w, c, 4)

	pad := &ZeroPadding2D{Top: 1, Bottom: 2, Left: 3, Right: 0}
	want := newGrid(h+3, w+3, c)
	for y := range h {
		for x := range w {
			for ch := range c {
				want.set(y+1, x+3, ch, g.at(y, x, ch))
			}
		}
	}
	out := emptyView(want.h, want.w, c, 5)
	forward(t, pad, 2, out, in)
	checkView(t, "ZeroPadding2D", out, want, exact)

	crop := &Cropping2D{Top: 1, Bottom: 0, Left: 2, Right: 1}
	want = newGrid(h-1, w-3, c)
	for y := range want.h {
		for x := range want.w {
			for ch := range c {
				want.set(y, x, ch, g.at(y+1, x+2, ch))
			}
		}
	}
	out = emptyView(want.h, want.w, c, 6)
	forward(t, crop, 2, out, in)
	checkView(t, "Cropping2D", out, want, exact)
}

func TestDepthToSpace(t *testing.T) {
	// TensorFlow's depth_to_space in NHWC: a 1×1×8 pixel with block 2
	// becomes 2×2 pixels of 2 channels, filled row by row with consecutive
	// channel pairs.
	d := &DepthToSpace{ClassName: "PixelShuffle2x", Block: 2}
	in := View{Data: []float32{1, 2, 3, 4, 5, 6, 7, 8}, H: 1, W: 1, C: 8, Stride: 8}
	out := emptyView(2, 2, 2, 2)
	forward(t, d, 1, out, in)
	if want := []float32{1, 2, 3, 4, 5, 6, 7, 8}; !slices.Equal(out.Data, want) {
		t.Errorf("DepthToSpace(1×1×8, block 2) = %v, want [[1 2] [3 4]; [5 6] [7 8]] = %v", out.Data, want)
	}

	// The examples in the documentation of TensorFlow's tf.nn.depth_to_space:
	// [1, 1, 1, 12] with block 2 becomes [1, 2, 2, 3].
	in = View{Data: []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, H: 1, W: 1, C: 12, Stride: 12}
	out = emptyView(2, 2, 3, 3)
	forward(t, d, 1, out, in)
	if want := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}; !slices.Equal(out.Data, want) {
		t.Errorf("DepthToSpace(1×1×12, block 2) = %v, want %v", out.Data, want)
	}

	// [1, 2, 2, 4] holding 0..15 with block 2 becomes [1, 4, 4, 1], rows
	// [0 1 4 5], [2 3 6 7], [8 9 12 13], [10 11 14 15].
	in = View{Data: make([]float32, 16), H: 2, W: 2, C: 4, Stride: 4}
	for i := range in.Data {
		in.Data[i] = float32(i)
	}
	out = emptyView(4, 4, 1, 1)
	forward(t, d, 1, out, in)
	if want := []float32{0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15}; !slices.Equal(out.Data, want) {
		t.Errorf("DepthToSpace(2×2×4, block 2) = %v, want %v", out.Data, want)
	}

	// Random 3×2 input with block 3 and strided views: output (y·b+i, x·b+j)
	// channel c is input (y, x) channel (i·b+j)·C'+c.
	r := rand.New(rand.NewPCG(11, 12))
	const b, cOut = 3, 2
	src, g := randomView(r, 3, 2, b*b*cOut, b*b*cOut+3)
	want := newGrid(9, 6, cOut)
	for y := range 3 {
		for x := range 2 {
			for i := range b {
				for j := range b {
					for c := range cOut {
						want.set(y*b+i, x*b+j, c, g.at(y, x, (i*b+j)*cOut+c))
					}
				}
			}
		}
	}
	out = emptyView(9, 6, cOut, 5)
	forward(t, &DepthToSpace{ClassName: "PixelShuffle3x", Block: b}, 2, out, src)
	checkView(t, "DepthToSpace block 3", out, want, exact)
}

func TestMergeOps(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	const h, w, c = 3, 4, 5
	a, ga := randomView(r, h, w, c, 7)
	b, gb := randomView(r, h, w, c, 5)
	d, gd := randomView(r, h, w, c, 9)
	tests := []struct {
		op     MergeOp
		class  string
		inputs []View
		f      func(i int) float64
	}{
		{Add, "Add", []View{a, b, d}, func(i int) float64 { return ga.data[i] + gb.data[i] + gd.data[i] }},
		{Subtract, "Subtract", []View{a, b}, func(i int) float64 { return ga.data[i] - gb.data[i] }},
		{Multiply, "Multiply", []View{a, b, d}, func(i int) float64 { return ga.data[i] * gb.data[i] * gd.data[i] }},
		{Average, "Average", []View{a, b, d}, func(i int) float64 { return (ga.data[i] + gb.data[i] + gd.data[i]) / 3 }},
		{Maximum, "Maximum", []View{a, b, d}, func(i int) float64 { return max(ga.data[i], gb.data[i], gd.data[i]) }},
		{Minimum, "Minimum", []View{a, b}, func(i int) float64 { return min(ga.data[i], gb.data[i]) }},
	}
	for _, tt := range tests {
		t.Run(tt.class, func(t *testing.T) {
			m := &Merge{Op: tt.op}
			if m.Class() != tt.class {
				t.Errorf("Class() = %q, want %q", m.Class(), tt.class)
			}
			want := newGrid(h, w, c)
			for i := range want.data {
				want.data[i] = tt.f(i)
			}
			out := emptyView(h, w, c, 6)
			forward(t, m, 2, out, tt.inputs...)
			checkView(t, "output", out, want, func(int) float64 { return 1e-6 })
		})
	}
	t.Run("shape errors", func(t *testing.T) {
		if _, err := (&Merge{Op: Add}).OutputShape([]Shape{{2, 2, 3}}); err == nil {
			t.Error("Add of one input: no error")
		}
		if _, err := (&Merge{Op: Add}).OutputShape([]Shape{{2, 2, 3}, {2, 2, 4}}); err == nil {
			t.Error("Add of [2, 2, 3] and [2, 2, 4]: no error")
		}
		if _, err := (&Merge{Op: Subtract}).OutputShape([]Shape{{2, 2, 3}, {2, 2, 3}, {2, 2, 3}}); err == nil {
			t.Error("Subtract of three inputs: no error")
		}
	})
}

func TestConcatenate(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	const h, w = 3, 5
	a, ga := randomView(r, h, w, 2, 3)
	b, gb := randomView(r, h, w, 3, 3)
	d, gd := randomView(r, h, w, 1, 4)
	want := newGrid(h, w, 6)
	for p := range h * w {
		copy(want.data[p*6:], ga.data[p*2:p*2+2])
		copy(want.data[p*6+2:], gb.data[p*3:p*3+3])
		want.data[p*6+5] = gd.data[p]
	}

	t.Run("copy", func(t *testing.T) {
		out := emptyView(h, w, 6, 8)
		forward(t, &Concatenate{}, 1, out, a, b, d)
		checkView(t, "output", out, want, exact)
	})
	t.Run("in place", func(t *testing.T) {
		// b already sits in its channel range of the output buffer, as the
		// compiler arranges; Concatenate must leave it and copy the others.
		out := emptyView(h, w, 6, 8)
		inPlaceB := View{Data: out.Data[2:], H: h, W: w, C: 3, Stride: 8}
		for p := range h * w {
			copy(inPlaceB.Pixel(p), b.Pixel(p))
		}
		forward(t, &Concatenate{}, 1, out, a, inPlaceB, d)
		checkView(t, "output", out, want, exact)
	})
	t.Run("shape errors", func(t *testing.T) {
		if _, err := (&Concatenate{}).OutputShape([]Shape{{2, 2, 3}}); err == nil {
			t.Error("one input: no error")
		}
		if _, err := (&Concatenate{}).OutputShape([]Shape{{2, 2, 3}, {2, 3, 3}}); err == nil {
			t.Error("inputs of different widths: no error")
		}
		s, err := (&Concatenate{}).OutputShape([]Shape{{Dynamic, Dynamic, 3}, {Dynamic, Dynamic, 4}})
		if err != nil || s != (Shape{Dynamic, Dynamic, 7}) {
			t.Errorf("OutputShape of dynamic inputs = %v, %v; want [?, ?, 7]", s, err)
		}
	})
}

func TestPReLUAndScale(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	const h, w, c = 4, 3, 3
	in, g := randomView(r, h, w, c, 5)
	alpha := []float32{0.25, -0.5, 2}
	want := newGrid(h, w, c)
	for p := range h * w {
		for ch := range c {
			v := g.data[p*c+ch]
			if v < 0 {
				v *= float64(alpha[ch])
			}
			want.data[p*c+ch] = v
		}
	}
	out := emptyView(h, w, c, 4)
	forward(t, &PReLU{Alpha: alpha}, 1, out, in)
	checkView(t, "PReLU", out, want, func(int) float64 { return 1e-7 })
	if _, err := (&PReLU{Alpha: alpha}).OutputShape([]Shape{{2, 2, 4}}); err == nil {
		t.Error("PReLU with 3 slopes on 4 channels: no error")
	}

	out = emptyView(h, w, c, 3)
	forward(t, &Scale{ClassName: "MultiplyBeta", Factor: 0.2}, 1, out, in)
	checkView(t, "Scale", out, g.apply(func(x float64) float64 { return 0.2 * x }), func(int) float64 { return 1e-7 })
}

func TestActivationValues(t *testing.T) {
	points := []float32{-50, -7, -3, -1, -0.5, -1e-3, 0, 1e-3, 0.5, 1, 2.5, 3, 6, 7, 50}
	for name, ref := range refActivations {
		t.Run(name, func(t *testing.T) {
			f, err := LookupFunc(name)
			if err != nil {
				t.Fatal(err)
			}
			if f.Name() != name {
				t.Errorf("Name() = %q, want %q", f.Name(), name)
			}
			for _, x := range points {
				want := ref(float64(x))
				got := float64(f.Apply(x))
				if math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want)) {
					t.Errorf("%s(%v) = %v, want %v", name, x, got, want)
				}
			}
		})
	}
	t.Run("empty name is linear", func(t *testing.T) {
		f, err := LookupFunc("")
		if err != nil || f.Name() != "linear" {
			t.Errorf("LookupFunc(\"\") = %q, %v; want linear", f.Name(), err)
		}
	})
	t.Run("unknown name", func(t *testing.T) {
		if _, err := LookupFunc("mish"); err == nil {
			t.Error("LookupFunc(mish): no error")
		}
	})

	parametric := []struct {
		name string
		f    Func
		ref  func(float64) float64
	}{
		{"LeakyReLU(0.3)", LeakyReLUFunc(0.3), func(x float64) float64 { return max(x, 0) + float64(float32(0.3))*min(x, 0) }},
		{"ELU(0.5)", ELUFunc(0.5), func(x float64) float64 {
			if x > 0 {
				return x
			}
			return 0.5 * (math.Exp(x) - 1)
		}},
		{"ReLU()", ReLUFunc(-1, 0, 0), refActivations["relu"]},
		{"ReLU(max 6)", ReLUFunc(6, 0, 0), refActivations["relu6"]},
		{"ReLU(slope 0.1)", ReLUFunc(-1, 0.1, 0), func(x float64) float64 { return max(x, 0) + float64(float32(0.1))*min(x, 0) }},
		{"ReLU(max 2.5, slope 0.1, threshold 1)", ReLUFunc(2.5, 0.1, 1), func(x float64) float64 {
			// Keras: max_value above it, x from threshold up, and
			// negative_slope·(x − threshold) below.
			switch {
			case x >= 2.5:
				return 2.5
			case x >= 1:
				return x
			}
			return float64(float32(0.1)) * (x - 1)
		}},
	}
	for _, tt := range parametric {
		for _, x := range points {
			want := tt.ref(float64(x))
			if got := float64(tt.f.Apply(x)); math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want)) {
				t.Errorf("%s(%v) = %v, want %v", tt.name, x, got, want)
			}
		}
	}
}

func TestActivationLayerOnStridedViews(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	in, g := randomView(r, 3, 4, 2, 5)
	for name, ref := range refActivations {
		f, err := LookupFunc(name)
		if err != nil {
			t.Fatal(err)
		}
		out := emptyView(3, 4, 2, 3)
		forward(t, &Activation{ClassName: "Activation", Func: f}, 1, out, in)
		checkView(t, name, out, g.apply(ref), func(int) float64 { return 1e-6 })
	}
}

func TestShapeErrors(t *testing.T) {
	conv, err := NewConv2D(tensor.New(3, 3, 2, 4), nil, ConvConfig{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		layer Layer
		in    []Shape
	}{
		{conv, []Shape{{5, 5, 3}}},
		{conv, []Shape{{5, 5, 2}, {5, 5, 2}}},
		{&DepthToSpace{ClassName: "PixelShuffle2x", Block: 2}, []Shape{{2, 2, 6}}},
		{&DepthToSpace{ClassName: "PixelShuffle1x", Block: 1}, []Shape{{2, 2, 4}}},
		{&UpSampling2D{SizeH: 0, SizeW: 2}, []Shape{{2, 2, 4}}},
		{&Cropping2D{Top: 2, Bottom: 1}, []Shape{{3, 4, 1}}},
		{&Cropping2D{Left: -1}, []Shape{{3, 4, 1}}},
		{&ZeroPadding2D{Top: -1}, []Shape{{3, 4, 1}}},
	}
	for _, tt := range tests {
		if s, err := tt.layer.OutputShape(tt.in); err == nil {
			t.Errorf("%s.OutputShape(%v) = %v, want an error", tt.layer.Class(), tt.in, s)
		}
	}

	// A valid convolution that does not fit the input gives an empty
	// output, which Model.Shapes rejects.
	s, err := conv.OutputShape([]Shape{{2, 5, 2}})
	if err != nil || s.H > 0 {
		t.Errorf("valid 3×3 Conv2D on [2, 5, 2] = %v, %v; want zero height", s, err)
	}
}
