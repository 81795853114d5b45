package nn

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestConv2DRowsMatchesReference checks the row passes of conv_rows.go
// against the float64 reference: kernel shapes square and not, both
// paddings, images smaller than the kernel, strided input and output
// views, several workers, and every activation.
func TestConv2DRowsMatchesReference(t *testing.T) {
	type rowsCase struct {
		kh, kw              int
		same, bias          bool
		act                 string
		h, w, inC, outC     int
		inStride, outStride int
	}
	var cases []rowsCase
	// Every kernel shape and padding on an odd-sized image. outC covers the
	// thin-N kernels (3), a narrow panel (8) and wide panels with a tail (37).
	for _, k := range [][2]int{{2, 2}, {3, 3}, {5, 5}, {1, 3}, {3, 1}, {3, 5}} {
		for _, same := range []bool{true, false} {
			for _, outC := range []int{3, 8, 37} {
				cases = append(cases, rowsCase{kh: k[0], kw: k[1], same: same, bias: true, act: "linear", h: 9, w: 11, inC: 32, outC: outC})
			}
		}
	}
	cases = append(cases,
		// Input views that are a channel prefix of a wider buffer, output
		// views inside a concatenation buffer.
		rowsCase{kh: 3, kw: 3, same: true, bias: true, act: "relu", h: 13, w: 7, inC: 16, outC: 20, inStride: 40, outStride: 29},
		rowsCase{kh: 3, kw: 3, same: false, bias: false, act: "linear", h: 6, w: 10, inC: 12, outC: 4, inStride: 13, outStride: 9},
		// Images smaller than the kernel, one row, one column.
		rowsCase{kh: 5, kw: 5, same: true, bias: true, act: "linear", h: 2, w: 3, inC: 8, outC: 6},
		rowsCase{kh: 3, kw: 3, same: true, bias: true, act: "linear", h: 1, w: 1, inC: 16, outC: 5},
		rowsCase{kh: 3, kw: 3, same: true, bias: true, act: "relu6", h: 1, w: 17, inC: 16, outC: 9},
		rowsCase{kh: 3, kw: 3, same: true, bias: true, act: "relu6", h: 17, w: 1, inC: 16, outC: 9},
		// The model shapes: 3×3 with 64 channels in, many chunks and
		// workers, and the deep 3×3 of the thick models (kc-blocked).
		rowsCase{kh: 3, kw: 3, same: true, bias: true, act: "linear", h: 40, w: 23, inC: 64, outC: 64},
		rowsCase{kh: 3, kw: 3, same: true, bias: true, act: "relu", h: 11, w: 9, inC: 160, outC: 32, inStride: 192, outStride: 48},
	)
	// Every activation, fused into the GEMM or applied after it.
	for _, name := range slices.Sorted(maps.Keys(refActivations)) {
		cases = append(cases, rowsCase{kh: 3, kw: 3, same: true, bias: true, act: name, h: 6, w: 5, inC: 11, outC: 6, outStride: 7})
	}
	r := rand.New(rand.NewPCG(31, 32))
	for _, tc := range cases {
		pad := "valid"
		if tc.same {
			pad = "same"
		}
		name := fmt.Sprintf("k%dx%d_%s_bias%v_%s_%dx%dx%d-%d_strides%d,%d", tc.kh, tc.kw, pad, tc.bias, tc.act, tc.h, tc.w, tc.inC, tc.outC, tc.inStride, tc.outStride)
		t.Run(name, func(t *testing.T) {
			kernel := randomTensor(r, 1, tc.kh, tc.kw, tc.inC, tc.outC)
			var bias []float32
			if tc.bias {
				bias = randomSlice(r, tc.outC)
			}
			act, err := LookupFunc(tc.act)
			if err != nil {
				t.Fatal(err)
			}
			cfg := ConvConfig{Activation: act}
			if tc.same {
				cfg.Padding = Same
			}
			conv, err := NewConv2D(kernel, bias, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if conv.rows == nil {
				t.Fatalf("NewConv2D(%dx%dx%dx%d) chose im2col, want the row passes", tc.kh, tc.kw, tc.inC, tc.outC)
			}
			in, inGrid := randomView(r, tc.h, tc.w, tc.inC, max(tc.inStride, tc.inC))
			want, mag := refConv(inGrid, kernel, bias, 1, 1, 1, 1, tc.same)
			want = want.apply(refActivations[tc.act])
			for _, threads := range []int{1, 3} {
				out := emptyView(want.h, want.w, want.c, max(tc.outStride, tc.outC))
				if err := conv.Forward(context.Background(), dirtyEnv(threads), []View{in}, out); err != nil {
					t.Fatalf("Conv2D.Forward: %v", err)
				}
				checkView(t, fmt.Sprintf("output with %d threads", threads), out, want, convTol(mag, 2))
			}
		})
	}
}

// dirtyEnv returns an Env for threads workers whose scratch buffers hold
// NaNs, as left over from other layers, so a layer that reads scratch it
// did not write fails.
func dirtyEnv(threads int) *Env {
	env := &Env{threads: threads}
	for w := range threads + 1 {
		s := env.Scratch(w, 1<<18)
		for i := range s {
			s[i] = float32(math.NaN())
		}
	}
	return env
}

// TestUseRows checks which convolutions take the row passes.
func TestUseRows(t *testing.T) {
	tests := []struct {
		name             string
		kh, kw           int
		stride, dilation int
		want             bool
	}{
		{"3x3", 3, 3, 1, 1, true},
		{"5x5", 5, 5, 1, 1, true},
		{"1x3", 1, 3, 1, 1, true},
		{"3x1", 3, 1, 1, 1, true},
		{"1x1", 1, 1, 1, 1, false},
		{"3x3 stride 2", 3, 3, 2, 1, false},
		{"3x3 dilation 2", 3, 3, 1, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ConvConfig{StrideH: tt.stride, StrideW: tt.stride, DilationH: tt.dilation, DilationW: tt.dilation}
			if got := useRows(cfg, tt.kh, tt.kw); got != tt.want {
				t.Errorf("useRows(stride %d, dilation %d, %dx%d) = %v, want %v", tt.stride, tt.dilation, tt.kh, tt.kw, got, tt.want)
			}
		})
	}
}

// TestConv2DRowsCancelled checks that the row passes stop on a cancelled
// context and return its error.
func TestConv2DRowsCancelled(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	conv, err := NewConv2D(randomTensor(r, 1, 3, 3, 32, 8), nil, ConvConfig{Padding: Same})
	if err != nil {
		t.Fatal(err)
	}
	in, _ := randomView(r, 20, 20, 32, 32)
	out := emptyView(20, 20, 8, 8)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = conv.Forward(ctx, &Env{threads: 2}, []View{in}, out)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Conv2D.Forward with a cancelled context = %v, want %v", err, context.Canceled)
	}
}
