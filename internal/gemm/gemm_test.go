package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// kernelNames lists every kernel the package can build. A kernel the CPU or
// the build lacks is skipped, not failed.
var kernelNames = []string{"go", "avx2", "avx512", "openblas"}

// lookupOrSkip returns the kernel called name, or skips the test.
func lookupOrSkip(t testing.TB, name string) Kernel {
	t.Helper()
	k, err := Lookup(name)
	if err != nil {
		t.Skipf("kernel %q not built or not supported by this CPU: %v", name, err)
	}
	return k
}

// sentinel fills the guard regions around C. It is a NaN with a payload
// that no kernel computes, compared bit for bit.
var sentinel = math.Float32frombits(0x7fa5a5a5)

// mulCase is one call of Mul: sizes, strides, the offsets of A and C in
// their backing arrays, and the epilogue.
type mulCase struct {
	m, n, k    int
	lda, ldc   int
	aOff, cOff int
	bias       bool
	act        Activation
	alpha      float32
	accumulate bool // C starts with random values and Mul adds to them
}

func (mc mulCase) String() string {
	return fmt.Sprintf("m%d_n%d_k%d_lda%d_ldc%d_off%d,%d_bias%v_act%d_acc%v",
		mc.m, mc.n, mc.k, mc.lda, mc.ldc, mc.aOff, mc.cOff, mc.bias, mc.act, mc.accumulate)
}

// mulInputs are the matrices of a mulCase.
type mulInputs struct {
	a    []float32 // backing array of A; A starts at aOff
	b    []float32 // k×n row-major
	bias []float32
	c    []float32 // m×n initial C with accumulate, else nil
	ep   Epilogue
}

func newInputs(r *rand.Rand, mc mulCase) mulInputs {
	in := mulInputs{
		a: make([]float32, mc.aOff+max(0, (mc.m-1)*mc.lda+mc.k)+3),
		b: make([]float32, mc.k*mc.n),
	}
	for i := range in.a {
		in.a[i] = 2*r.Float32() - 1
	}
	for i := range in.b {
		in.b[i] = 2*r.Float32() - 1
	}
	in.ep = Epilogue{Act: mc.act, Alpha: mc.alpha, Accumulate: mc.accumulate}
	if mc.accumulate {
		in.c = make([]float32, mc.m*mc.n)
		for i := range in.c {
			in.c[i] = 4*r.Float32() - 2
		}
	}
	if mc.bias {
		in.bias = make([]float32, mc.n)
		for i := range in.bias {
			in.bias[i] = 2*r.Float32() - 1
		}
		in.ep.Bias = in.bias
	}
	return in
}

// guardedC returns a backing array for C with cOff sentinels before C, the
// gaps between rows filled with sentinels, and 37 sentinels after it, and
// the slice that Mul gets.
func guardedC(mc mulCase) (backing, c []float32) {
	size := max(0, (mc.m-1)*mc.ldc+mc.n)
	backing = make([]float32, mc.cOff+size+37)
	for i := range backing {
		backing[i] = sentinel
	}
	return backing, backing[mc.cOff : mc.cOff+size]
}

// run packs B with kern, multiplies, and checks that only C's elements
// changed. It returns the m×n result.
func run(t *testing.T, kern Kernel, mc mulCase, in mulInputs) [][]float32 {
	t.Helper()
	backing, c := guardedC(mc)
	if in.c != nil {
		for i := range mc.m {
			copy(c[i*mc.ldc:i*mc.ldc+mc.n], in.c[i*mc.n:(i+1)*mc.n])
		}
	}
	p := kern.Pack(in.b, mc.k, mc.n)
	kern.Mul(mc.m, in.a[mc.aOff:], mc.lda, p, c, mc.ldc, in.ep)

	out := make([][]float32, mc.m)
	for i := range backing {
		pos := i - mc.cOff
		row, col := pos/mc.ldc, pos%mc.ldc
		inside := pos >= 0 && row < mc.m && col < mc.n
		if inside {
			if out[row] == nil {
				out[row] = make([]float32, mc.n)
			}
			out[row][col] = backing[i]
			continue
		}
		if math.Float32bits(backing[i]) != math.Float32bits(sentinel) {
			t.Errorf("%s Mul(%v) wrote %g at offset %d from the start of C, outside the m×n block", kern.Name(), mc, backing[i], pos)
			return out
		}
	}
	return out
}

// reference returns C computed in float64 and, per element, the bound on
// the error of a float32 kernel.
//
// A float32 dot product of length k, summed in any order with or without
// FMA, is within k·u·Σ|a||b| of the exact value (u = 2⁻²⁴, the unit
// roundoff). Adding the old C and the bias costs one rounding each, and the
// activations are 1-Lipschitz for |alpha| ≤ 1. So each element is within
// (k+2)·u·(Σ|a||b| + |bias|) of the float64 value; the float64 sum itself
// is exact to far below that.
func reference(mc mulCase, in mulInputs) (want, bound [][]float64) {
	const u = 1.0 / (1 << 24)
	a := in.a[mc.aOff:]
	want = make([][]float64, mc.m)
	bound = make([][]float64, mc.m)
	for i := range mc.m {
		want[i] = make([]float64, mc.n)
		bound[i] = make([]float64, mc.n)
		for j := range mc.n {
			var s, abs float64
			for p := range mc.k {
				x := float64(a[i*mc.lda+p]) * float64(in.b[p*mc.n+j])
				s += x
				abs += math.Abs(x)
			}
			if in.c != nil {
				s += float64(in.c[i*mc.n+j])
				abs += math.Abs(float64(in.c[i*mc.n+j]))
			}
			if in.bias != nil {
				s += float64(in.bias[j])
				abs += math.Abs(float64(in.bias[j]))
			}
			switch mc.act {
			case ReLU:
				s = max(s, 0)
			case ReLU6:
				s = min(max(s, 0), 6)
			case LeakyReLU:
				if s < 0 {
					s *= float64(mc.alpha)
				}
			}
			want[i][j] = s
			bound[i][j] = float64(mc.k+2)*u*abs + 1e-30
		}
	}
	return want, bound
}

// mulCases returns the shapes of the real models, the row passes of their
// convolutions, and random shapes with tails in every dimension, odd
// strides, odd offsets, overlapping rows of A and accumulation.
func mulCases(r *rand.Rand, random int) []mulCase {
	acts := []Activation{Linear, ReLU, ReLU6, LeakyReLU}
	var cases []mulCase
	add := func(m, n, k, ldaPad, ldcPad, aOff, cOff int, bias bool, act Activation) {
		cases = append(cases, mulCase{
			m: m, n: n, k: k, lda: k + ldaPad, ldc: n + ldcPad,
			aOff: aOff, cOff: cOff, bias: bias, act: act, alpha: 0.2,
		})
	}
	// Model shapes: first layer, 3×3 convolutions, 1×1 convolutions, and the
	// thin outputs; each with all four activations.
	for i, s := range []struct{ m, n, k int }{
		{64, 64, 27}, {100, 64, 576}, {64, 32, 576}, {70, 3, 576}, {65, 4, 576},
		{33, 12, 576}, {29, 48, 612}, {17, 192, 64}, {90, 32, 1440}, {15, 64, 448},
	} {
		add(s.m, s.n, s.k, i%3, 7*(i%2), i%5, 2*i+1, i%2 == 0, acts[i%4])
		add(s.m, s.n, s.k, 1, 0, 3, 0, i%2 == 1, acts[(i+1)%4])
	}
	// Edges: one row, one column, k = 0 (the epilogue of zero), k = 1.
	for _, act := range acts {
		add(1, 1, 1, 0, 0, 0, 0, true, act)
		add(3, 70, 0, 0, 2, 1, 1, true, act)
		add(29, 17, 1, 2, 1, 1, 3, false, act)
		add(13, 33, 5, 1, 31, 7, 5, true, act)
	}
	// Accumulation and overlapping rows of A, as in the row passes of a
	// convolution: the rows of A are pixels cin apart and k = kw·cin.
	// The first pass of an output row replaces C, the middle ones add to
	// it without an epilogue, and the last adds to it with the epilogue.
	for i, s := range []struct{ m, n, cin, kw int }{
		{128, 64, 64, 3}, {128, 32, 64, 3}, {61, 3, 64, 3}, {33, 4, 64, 3},
		{47, 48, 160, 3}, {20, 12, 5, 9}, {7, 70, 1, 3}, {13, 2, 3, 3},
	} {
		k := s.kw * s.cin
		for pass, act := range acts {
			cases = append(cases, mulCase{
				m: s.m, n: s.n, k: k, lda: s.cin, ldc: s.n + i%3, aOff: i, cOff: pass,
				bias: pass == 3, act: act, alpha: 0.2, accumulate: pass > 0,
			})
		}
	}
	for _, act := range acts {
		cases = append(cases,
			mulCase{m: 3, n: 70, k: 0, lda: 0, ldc: 70, bias: true, act: act, alpha: 0.2, accumulate: true},
			mulCase{m: 5, n: 3, k: 0, lda: 0, ldc: 4, cOff: 1, act: act, alpha: 0.2, accumulate: true},
		)
	}
	for range random {
		m := 1 + r.IntN(300)
		n := 1 + r.IntN(70)
		k := 1 + r.IntN(700)
		add(m, n, k, r.IntN(9), r.IntN(9), r.IntN(8), r.IntN(8), r.IntN(2) == 0, acts[r.IntN(4)])
		cases[len(cases)-1].accumulate = r.IntN(2) == 0
		if r.IntN(4) == 0 {
			cases[len(cases)-1].lda = r.IntN(k + 1) // overlapping rows
		}
	}
	return cases
}

// TestMulReference checks every kernel against a float64 reference within
// the error bound of reference, with guard regions around C.
func TestMulReference(t *testing.T) {
	random := 120
	if testing.Short() {
		random = 20
	}
	r := rand.New(rand.NewPCG(3, 4))
	cases := mulCases(r, random)
	for _, name := range kernelNames {
		t.Run(name, func(t *testing.T) {
			kern := lookupOrSkip(t, name)
			r := rand.New(rand.NewPCG(5, 6))
			for _, mc := range cases {
				in := newInputs(r, mc)
				got := run(t, kern, mc, in)
				want, bound := reference(mc, in)
				if failed := compare(t, kern.Name(), mc, got, want, bound); failed {
					return
				}
			}
		})
	}
}

// compare reports the first element of got outside want ± bound.
func compare(t *testing.T, name string, mc mulCase, got [][]float32, want, bound [][]float64) (failed bool) {
	t.Helper()
	for i := range want {
		for j := range want[i] {
			g := float64(got[i][j])
			if d := math.Abs(g - want[i][j]); !(d <= bound[i][j]) {
				t.Errorf("%s Mul(%v): C[%d][%d] = %g, want %g ± %g", name, mc, i, j, g, want[i][j], bound[i][j])
				return true
			}
		}
	}
	return false
}

// TestMulMatchesGo checks each SIMD kernel against the Go kernel. Both are
// within the bound of reference of the exact value, so they are within
// twice that of each other.
func TestMulMatchesGo(t *testing.T) {
	goKern := lookupOrSkip(t, "go")
	r := rand.New(rand.NewPCG(7, 8))
	cases := mulCases(r, 40)
	for _, name := range kernelNames[1:] {
		t.Run(name, func(t *testing.T) {
			kern := lookupOrSkip(t, name)
			r := rand.New(rand.NewPCG(9, 10))
			for _, mc := range cases {
				in := newInputs(r, mc)
				got := run(t, kern, mc, in)
				ref := run(t, goKern, mc, in)
				_, bound := reference(mc, in)
				want := make([][]float64, mc.m)
				for i := range want {
					want[i] = make([]float64, mc.n)
					for j := range want[i] {
						want[i][j] = float64(ref[i][j])
						bound[i][j] *= 2
					}
				}
				if compare(t, name, mc, got, want, bound) {
					return
				}
			}
		})
	}
}

// TestMulConcurrent runs Mul from several goroutines on one packed matrix,
// each on its own rows, as the convolution layers do, and checks the
// result equals the same calls made one after another.
func TestMulConcurrent(t *testing.T) {
	for _, name := range kernelNames {
		t.Run(name, func(t *testing.T) {
			kern := lookupOrSkip(t, name)
			const m, n, k, workers = 203, 35, 300, 4
			r := rand.New(rand.NewPCG(11, 12))
			mc := mulCase{m: m, n: n, k: k, lda: k, ldc: n, bias: true, act: ReLU}
			in := newInputs(r, mc)
			p := kern.Pack(in.b, k, n)
			rows := (m + workers - 1) / workers
			want := make([]float32, m*n)
			for w := range workers {
				i0 := w * rows
				i1 := min(m, i0+rows)
				kern.Mul(i1-i0, in.a[i0*k:], k, p, want[i0*n:], n, in.ep)
			}

			got := make([]float32, m*n)
			var wg sync.WaitGroup
			for w := range workers {
				i0 := w * rows
				i1 := min(m, i0+rows)
				wg.Go(func() {
					for range 20 {
						kern.Mul(i1-i0, in.a[i0*k:], k, p, got[i0*n:], n, in.ep)
					}
				})
			}
			wg.Wait()
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%s: concurrent Mul C[%d][%d] = %g, want %g as from sequential calls", name, i/n, i%n, got[i], want[i])
				}
			}
		})
	}
}

// TestMulNoAllocs checks that Mul allocates nothing, also with a bias on a
// partial panel.
func TestMulNoAllocs(t *testing.T) {
	for _, name := range kernelNames {
		if name == "openblas" {
			continue // it copies B per call by design
		}
		t.Run(name, func(t *testing.T) {
			kern := lookupOrSkip(t, name)
			const m, k = 64, 600
			for _, n := range []int{3, 37} {
				r := rand.New(rand.NewPCG(13, 14))
				mc := mulCase{m: m, n: n, k: k, lda: k, ldc: n, bias: true, act: LeakyReLU, alpha: 0.1}
				in := newInputs(r, mc)
				p := kern.Pack(in.b, k, n)
				c := make([]float32, m*n)
				if allocs := testing.AllocsPerRun(10, func() { kern.Mul(m, in.a, k, p, c, n, in.ep) }); allocs != 0 {
					t.Errorf("%s Mul with N=%d allocated %v times per call, want 0", name, n, allocs)
				}
			}
		})
	}
}

func TestPackPanics(t *testing.T) {
	tests := []struct {
		name string
		b    []float32
		k, n int
	}{
		{"short", make([]float32, 11), 3, 4},
		{"negative k", nil, -1, 4},
		{"negative n", nil, 2, -4},
	}
	for _, kern := range Kernels() {
		for _, tt := range tests {
			t.Run(kern.Name()+"/"+tt.name, func(t *testing.T) {
				defer func() {
					if recover() == nil {
						t.Errorf("%s Pack(len %d, %d, %d) did not panic", kern.Name(), len(tt.b), tt.k, tt.n)
					}
				}()
				kern.Pack(tt.b, tt.k, tt.n)
			})
		}
	}
}

func TestMulRejectsForeignPacking(t *testing.T) {
	ks := Kernels()
	if len(ks) < 2 {
		t.Skip("only one kernel on this CPU")
	}
	for _, kern := range ks[1:] {
		if kern.Name() == "openblas" {
			continue // it accepts any packing whose Data is the plain matrix
		}
		t.Run(kern.Name(), func(t *testing.T) {
			p := ks[0].Pack(make([]float32, 4*5), 4, 5)
			defer func() {
				if recover() == nil {
					t.Errorf("%s Mul of a matrix packed by %s did not panic", kern.Name(), ks[0].Name())
				}
			}()
			kern.Mul(2, make([]float32, 8), 4, p, make([]float32, 10), 5, Epilogue{})
		})
	}
}

// benchShapes are the products of the UpscalerJS ESRGAN models per call:
// 256 rows (output pixels), K = kernel area × input channels, N = output
// channels.
var benchShapes = []struct {
	name    string
	m, k, n int
}{
	{"conv3x3_64to64", 256, 576, 64},
	{"conv3x3_64to32", 256, 576, 32},
	{"first_3to64", 256, 27, 64},
	{"dense_68to32", 256, 612, 32},
	{"thick_160to32", 256, 1440, 32},
	{"conv1x1_64to32", 256, 64, 32},
	{"conv1x1_448to64", 256, 448, 64},
	{"out_64to3", 256, 576, 3},
	{"out_64to4", 256, 576, 4},
	{"out_64to12", 256, 576, 12},
	{"out_64to48", 256, 576, 48},
	{"up_64to192", 256, 576, 192},
}

// BenchmarkMul runs each kernel on each model shape, with a bias and
// LeakyReLU as in the dense blocks, and reports GFLOP/s (2·m·n·k per call).
func BenchmarkMul(b *testing.B) {
	for _, name := range kernelNames {
		for _, s := range benchShapes {
			b.Run(fmt.Sprintf("%s/%s_m%d_k%d_n%d", name, s.name, s.m, s.k, s.n), func(b *testing.B) {
				kern := lookupOrSkip(b, name)
				r := rand.New(rand.NewPCG(1, 2))
				a := make([]float32, s.m*s.k)
				w := make([]float32, s.k*s.n)
				bias := make([]float32, s.n)
				for i := range a {
					a[i] = r.Float32()
				}
				for i := range w {
					w[i] = r.Float32()
				}
				p := kern.Pack(w, s.k, s.n)
				c := make([]float32, s.m*s.n)
				ep := Epilogue{Bias: bias, Act: LeakyReLU, Alpha: 0.2}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					kern.Mul(s.m, a, s.k, p, c, s.n, ep)
				}
				b.ReportMetric(float64(2*s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

func TestUnpackRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, kern := range Kernels() {
		for _, size := range [][2]int{{1, 1}, {5, 3}, {7, 4}, {9, 5}, {13, 16}, {3, 17}, {10, 33}, {4, 70}, {0, 6}} {
			k, n := size[0], size[1]
			b := make([]float32, k*n)
			for i := range b {
				b[i] = r.Float32()
			}
			got := kern.Unpack(kern.Pack(b, k, n))
			if !slices.Equal(got, b) {
				t.Errorf("%s: Unpack(Pack(b)) of a %d×%d matrix differs from b", kern.Name(), k, n)
			}
		}
	}
}

func TestUnpackOtherKernelPanics(t *testing.T) {
	p := &Packed{K: 1, N: 1, Kernel: "other", Data: []float32{1}}
	for _, kern := range Kernels() {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s Unpack of a matrix packed by \"other\" did not panic", kern.Name())
				}
			}()
			kern.Unpack(p)
		}()
	}
}
