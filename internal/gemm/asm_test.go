package gemm

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestAsmKernelsEmulated runs every generated kernel in the interpreter of
// emu_test.go against the Go loop in its doc comment, on any CPU. The
// interpreter fails a kernel that touches memory outside A, the B panel,
// C's rows, the padded bias and its own data, or that writes anything but
// C. The test also checks that the gap between ncols and ldc keeps its
// values. On a CPU with AVX2, TestMulReference runs the AVX2 kernels on the
// hardware too, which checks the interpreter against the real instructions.
func TestAsmKernelsEmulated(t *testing.T) {
	prog, err := parseAsm("asm_amd64.s", "asm_amd64.go")
	if err != nil {
		t.Fatal(err)
	}
	nameRE := regexp.MustCompile(`^(mul|dot)(AVX2|AVX512)x(\d+)x(\d+)$`)
	var names []string
	for name := range prog.funcs {
		if nameRE.MatchString(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if len(names) != 12 {
		t.Fatalf("asm_amd64.s has kernels %v, want 12", names)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			sub := nameRE.FindStringSubmatch(name)
			dot := sub[1] == "dot"
			lanes := 8
			if sub[2] == "AVX512" {
				lanes = 16
			}
			mr, _ := strconv.Atoi(sub[3])
			nr, _ := strconv.Atoi(sub[4]) // panel width, or N of a thin-N kernel
			r := rand.New(rand.NewPCG(21, uint64(nr)))
			ms := []int{1, 2, mr - 1, mr, mr + 1, 2*mr + 3}
			ks := []int{0, 1, 3, 4, 5, 9, 30}
			ncols := []int{1, 3, nr/2 - 1, nr / 2, nr/2 + 1, nr - 1, nr}
			if dot {
				ks = []int{0, 1, lanes - 1, lanes, lanes + 1, 3*lanes + 5}
				ncols = []int{nr}
			}
			if testing.Short() {
				ks = []int{ks[0], ks[1], ks[len(ks)-1]}
			}
			for _, m := range ms {
				if m < 1 {
					continue // mr - 1 when mr is 1
				}
				for _, k := range ks {
					for _, nc := range ncols {
						if nc < 1 {
							continue
						}
						ec := emuCase{
							fn: name, dot: dot, lanes: lanes, nr: nr, m: m, k: k, ncols: nc,
							lda: k + r.IntN(3), ldc: nc + r.IntN(4),
							flags: uint(r.IntN(4)) | uint(r.IntN(4))<<actShiftEmu,
							alpha: 0.1,
						}
						if err := ec.run(prog, r); err != nil {
							t.Fatalf("%v: %v", ec, err)
						}
					}
				}
			}
		})
	}
}

// actShiftEmu is actShift of simd_amd64.go, which other builds lack.
const actShiftEmu = 2

// emuCase is one emulated kernel call.
type emuCase struct {
	fn    string
	dot   bool // a thin-N kernel: B in chunks of lanes, N = nr = ncols
	lanes int
	nr    int
	m, k  int
	ncols int
	lda   int
	ldc   int
	flags uint
	alpha float32
}

func (ec emuCase) String() string {
	return fmt.Sprintf("%s(m=%d, k=%d, lda=%d, ldc=%d, ncols=%d, flags=%#x)", ec.fn, ec.m, ec.k, ec.lda, ec.ldc, ec.ncols, ec.flags)
}

func randFloats(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = 2*r.Float32() - 1
	}
	return v
}

// run emulates the call and checks C against the kernel's Go loop.
func (ec emuCase) run(prog *asmProgram, r *rand.Rand) error {
	a := randFloats(r, (ec.m-1)*ec.lda+ec.k)
	b := randFloats(r, ec.k*ec.nr) // k×nr row-major
	packed := b
	if ec.dot {
		packed = packChunks(b, ec.k, ec.nr, ec.lanes)
	}
	c := randFloats(r, (ec.m-1)*ec.ldc+ec.ncols)
	bias := randFloats(r, ec.nr)
	oldC := append([]float32(nil), c...)
	accumulate := ec.flags&1 != 0

	mach := newMachine(prog)
	frame := make([]byte, 88)
	mach.alloc("frame", frame, true)
	args := map[string]uint64{
		"m": uint64(ec.m), "k": uint64(ec.k), "lda": uint64(ec.lda), "ldc": uint64(ec.ldc),
		"ncols": uint64(ec.ncols), "flags": uint64(ec.flags),
		"a":    mach.alloc("A", floatBytes(a), false),
		"b":    mach.alloc("B", floatBytes(packed), false),
		"c":    mach.alloc("C", floatBytes(c), true),
		"bias": mach.alloc("bias", floatBytes(bias), false),
	}
	layout := prog.args[ec.fn]
	for name, v := range args {
		if off, ok := layout[name]; ok {
			binary.LittleEndian.PutUint64(frame[off:], v)
		}
	}
	binary.LittleEndian.PutUint32(frame[layout["alpha"]:], math.Float32bits(ec.alpha))
	if err := mach.call(ec.fn); err != nil {
		return err
	}
	got := bytesFloats(mach.region("C").data)

	const u = 1.0 / (1 << 24)
	for i := 0; i < ec.m; i++ {
		for j := 0; j < ec.ldc && i*ec.ldc+j < len(c); j++ {
			idx := i*ec.ldc + j
			if j >= ec.ncols {
				if math.Float32bits(got[idx]) != math.Float32bits(oldC[idx]) {
					return fmt.Errorf("C[%d][%d] = %g, want %g unchanged (column ≥ ncols)", i, j, got[idx], oldC[idx])
				}
				continue
			}
			var s, abs float64
			for p := 0; p < ec.k; p++ {
				x := float64(a[i*ec.lda+p]) * float64(b[p*ec.nr+j])
				s += x
				abs += math.Abs(x)
			}
			if accumulate {
				s += float64(oldC[idx])
				abs += math.Abs(float64(oldC[idx]))
			}
			if ec.flags&2 != 0 {
				s += float64(bias[j])
				abs += math.Abs(float64(bias[j]))
			}
			switch Activation(ec.flags >> actShiftEmu) {
			case ReLU:
				s = max(s, 0)
			case ReLU6:
				s = min(max(s, 0), 6)
			case LeakyReLU:
				if s < 0 {
					s *= float64(ec.alpha)
				}
			}
			bound := float64(ec.k+2)*u*abs + 1e-30
			if d := math.Abs(float64(got[idx]) - s); !(d <= bound) {
				return fmt.Errorf("C[%d][%d] = %g, want %g ± %g", i, j, got[idx], s, bound)
			}
		}
	}
	return nil
}

// TestAVX2KernelsUseVEXRegisters checks that the AVX2 kernels use only the
// 16 registers and the instructions that an AVX2 CPU without AVX-512 has:
// Y16-Y31, zmm and opmask registers need EVEX encoding.
func TestAVX2KernelsUseVEXRegisters(t *testing.T) {
	prog, err := parseAsm("asm_amd64.s", "asm_amd64.go")
	if err != nil {
		t.Fatal(err)
	}
	evex := regexp.MustCompile(`^(Z\d+|K\d|[XY](1[6-9]|2\d|3[01]))$`)
	for name, code := range prog.funcs {
		if !strings.HasPrefix(name, "mulAVX2") && !strings.HasPrefix(name, "dotAVX2") {
			continue
		}
		for _, in := range code {
			if strings.Contains(in.op, ".") || in.op == "VPXORD" || in.op == "VPTESTMD" {
				t.Errorf("%s line %d: %s needs AVX-512", name, in.line, in.op)
			}
			for _, a := range in.args {
				if evex.MatchString(a) {
					t.Errorf("%s line %d: %s %s uses register %s, which needs AVX-512", name, in.line, in.op, strings.Join(in.args, ", "), a)
				}
			}
		}
	}
}
