package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// dotShape is a kernel for matrices with n ≤ 4 columns. It vectorises
// along k instead of along the columns. Each accumulator holds the partial
// dot product of one row of A with one column of B, one lane per step of k
// in a chunk, and the lanes are summed at the end. Every lane of every FMA
// does useful work, where a column-vectorised kernel would use only n of
// its lanes.
type dotShape struct {
	isa
	mr, n int
}

// dotShapes are the thin-N kernels. The accumulators take mr·n registers,
// and the k-loop needs n more for B and one for a row of A.
var dotShapes = []dotShape{
	{isa: avx2, mr: 8, n: 1},    //  8 + 1 + 1 = 10 of 16 ymm
	{isa: avx2, mr: 6, n: 2},    // 12 + 2 + 1 = 15
	{isa: avx2, mr: 4, n: 3},    // 12 + 3 + 1 = 16
	{isa: avx2, mr: 2, n: 4},    //  8 + 4 + 1 = 13
	{isa: avx512, mr: 12, n: 1}, // 12 + 1 + 1 = 14 of 32 zmm
	{isa: avx512, mr: 10, n: 2}, // 20 + 2 + 1 = 23
	{isa: avx512, mr: 8, n: 3},  // 24 + 3 + 1 = 28
	{isa: avx512, mr: 6, n: 4},  // 24 + 4 + 1 = 29
}

func (s dotShape) funcName() string { return fmt.Sprintf("dot%sx%dx%d", s.name, s.mr, s.n) }

// kernel returns the shape in the form the shared helpers take; nv is 1.
func (s dotShape) kernel() shape { return shape{isa: s.isa, mr: s.mr, nv: 1} }

const dotSignature = "func(m, k int, a *float32, lda int, b *float32, c *float32, ldc int, flags uint, bias *float32, alpha float32)"

// genDot emits one thin-N kernel, with the same loop over row blocks and
// per-row-count copies as genKernel.
func genDot(s dotShape) {
	TEXT(s.funcName(), NOSPLIT, dotSignature)
	Pragma("noescape")
	Doc(dotDoc(s)...)

	Label("rows")
	m := Load(Param("m"), GP64())
	CMPQ(m, U32(s.mr))
	JL(LabelRef("tail"))
	dotBlock(s, s.mr, "full")
	for _, p := range [][2]string{{"a", "lda"}, {"c", "ldc"}} {
		ptr := Load(Param(p[0]), GP64())
		stride := Load(Param(p[1]), GP64())
		IMUL3Q(U32(4*s.mr), stride, stride)
		ADDQ(stride, ptr)
		Store(ptr, Param(p[0]))
	}
	m = Load(Param("m"), GP64())
	SUBQ(U32(s.mr), m)
	Store(m, Param("m"))
	JMP(LabelRef("rows"))

	Label("tail")
	m = Load(Param("m"), GP64())
	for r := 1; r < s.mr; r++ {
		CMPQ(m, U32(r))
		JEQ(LabelRef(fmt.Sprintf("rows%d", r)))
	}
	RET()
	for r := 1; r < s.mr; r++ {
		Label(fmt.Sprintf("rows%d", r))
		dotBlock(s, r, fmt.Sprintf("r%d", r))
		RET()
	}
}

func dotDoc(s dotShape) []string {
	w := s.lanes
	return []string{
		fmt.Sprintf("%s multiplies m rows of A by the %d columns of B packed in", s.funcName(), s.n),
		fmt.Sprintf("chunks of %d steps of k (see packChunks), %d rows at a time, using %s.", w, s.mr, s.name),
		"It computes",
		"",
		"\tfor i := 0; i < m; i++ {",
		fmt.Sprintf("\t\tfor j := 0; j < %d; j++ {", s.n),
		"\t\t\tvar s float32",
		"\t\t\tfor p := 0; p < k; p++ {",
		fmt.Sprintf("\t\t\t\ts += a[i*lda+p] * b[p/%d*%d+j*%d+p%%%d]", w, w*s.n, w, w),
		"\t\t\t}",
		"\t\t\tif flags&flagAccumulate != 0 {",
		"\t\t\t\ts += c[i*ldc+j]",
		"\t\t\t}",
		"\t\t\tif flags&flagBias != 0 {",
		"\t\t\t\ts += bias[j]",
		"\t\t\t}",
		"\t\t\tep := Epilogue{Act: Activation(flags >> actShift), Alpha: alpha}",
		"\t\t\tc[i*ldc+j] = ep.apply(s)",
		"\t\t}",
		"\t}",
		"",
		"with FMA and a different order of summation.",
		fmt.Sprintf("b must hold whole chunks, zero past k, and bias %d floats.", s.n),
	}
}

// dotBlock emits the code for one block of rows: the k-loop over whole
// chunks, a masked last chunk, the sums across lanes and the scalar
// epilogue.
func dotBlock(s dotShape, rows int, tag string) {
	label := func(name string) string { return tag + "_" + name }
	ks := s.kernel()
	w := s.lanes

	k := Load(Param("k"), GP64())
	ap := Load(Param("a"), GP64())
	bp := Load(Param("b"), GP64())
	lda := Load(Param("lda"), GP64())
	SHLQ(U8(2), lda)
	odd := map[int]reg.Register{1: lda}
	for q := 3; q < rows; q += 2 {
		odd[q] = GP64()
		IMUL3Q(U32(q), lda, odd[q])
	}
	rowAddr := func(r int) Mem {
		if r == 0 {
			return Mem{Base: ap}
		}
		q, scale := r, 1
		for q%2 == 0 {
			q, scale = q/2, scale*2
		}
		if scale > 8 {
			panic(fmt.Sprintf("row %d needs index scale %d", r, scale))
		}
		return Mem{Base: ap, Index: odd[q], Scale: uint8(scale)}
	}

	acc := make([][]reg.VecPhysical, rows)
	for r := range acc {
		acc[r] = make([]reg.VecPhysical, s.n)
		for j := range acc[r] {
			acc[r][j] = ks.v(r*s.n + j)
			ks.zero(acc[r][j])
		}
	}
	free := rows * s.n

	// Whole chunks of w steps of k.
	n := GP64()
	MOVQ(k, n)
	SHRQ(U8(log2(w)), n)
	TESTQ(n, n)
	JZ(LabelRef(label("last")))
	Label(label("chunk"))
	b := make([]reg.VecPhysical, s.n)
	for j := range b {
		b[j] = ks.v(free + j)
		VMOVUPS(Mem{Base: bp, Disp: 4 * w * j}, b[j])
	}
	x := ks.v(free + s.n)
	for r := range acc {
		VMOVUPS(rowAddr(r), x)
		for j := range b {
			VFMADD231PS(x, b[j], acc[r][j])
		}
	}
	ADDQ(U32(4*w), ap)
	ADDQ(U32(4*w*s.n), bp)
	DECQ(n)
	JNZ(LabelRef(label("chunk")))

	// The last k mod w steps: load only those lanes of A, because the rest
	// of the row may not exist, and B is zero past k.
	Label(label("last"))
	ANDQ(U32(w-1), k)
	JZ(LabelRef(label("sum")))
	mask := maskRegs(ks, k, free)
	x = ks.v(free + 1)
	for r := range acc {
		if s.opmask {
			VMOVUPS_Z(rowAddr(r), mask.k, x)
		} else {
			VMASKMOVPS(rowAddr(r), mask.v, x)
		}
		for j := range acc[r] {
			VFMADD231PS(Mem{Base: bp, Disp: 4 * w * j}, x, acc[r][j])
		}
	}

	// Sum the lanes of each accumulator into lane 0.
	Label(label("sum"))
	t := ks.v(free)
	for r := range acc {
		for _, a := range acc[r] {
			if s.opmask {
				VSHUFF32X4(U8(0xee), a, a, t) // lanes 8-15 to 0-7
				VADDPS(t, a, a)
				VSHUFF32X4(U8(0x01), a, a, t) // lanes 4-7 to 0-3
				VADDPS(t, a, a)
				// Packed xmm operations on X16-X31 need AVX512VL, so
				// the last steps also work on whole zmm registers.
				VPERMILPS(U8(0x4e), a, t) // swap pairs of lanes
				VADDPS(t, a, a)
				VPERMILPS(U8(0xb1), a, t) // swap neighbouring lanes
			} else {
				VEXTRACTF128(U8(1), a, xmm(t))
				VADDPS(xmm(t), xmm(a), xmm(a))
				VPERMILPS(U8(0x4e), xmm(a), xmm(t))
				VADDPS(xmm(t), xmm(a), xmm(a))
				VPERMILPS(U8(0xb1), xmm(a), xmm(t))
			}
			VADDSS(xmm(t), xmm(a), xmm(a))
		}
	}

	// Scalar epilogue on lane 0: bias, activation, store.
	forEach := func(f func(j int, x reg.VecPhysical)) {
		for r := range acc {
			for j, a := range acc[r] {
				f(j, xmm(a))
			}
		}
	}
	flags := Load(Param("flags"), GP64())

	// With flagAccumulate, add the values already in C.
	TESTQ(U32(flagAccumulate), flags)
	JZ(LabelRef(label("bias")))
	row := Load(Param("c"), GP64())
	stride := Load(Param("ldc"), GP64())
	SHLQ(U8(2), stride)
	for r := range acc {
		if r > 0 {
			ADDQ(stride, row)
		}
		for j, a := range acc[r] {
			VADDSS(Mem{Base: row, Disp: 4 * j}, xmm(a), xmm(a))
		}
	}

	Label(label("bias"))
	TESTQ(U32(flagBias), flags)
	JZ(LabelRef(label("act")))
	bias := Load(Param("bias"), GP64())
	forEach(func(j int, x reg.VecPhysical) { VADDSS(Mem{Base: bias, Disp: 4 * j}, x, x) })

	Label(label("act"))
	SHRQ(U8(actShift), flags)
	CMPQ(flags, U32(1))
	JEQ(LabelRef(label("relu")))
	CMPQ(flags, U32(2))
	JEQ(LabelRef(label("relu6")))
	CMPQ(flags, U32(3))
	JEQ(LabelRef(label("leaky")))
	JMP(LabelRef(label("store")))

	z := xmm(ks.v(free))
	Label(label("relu"))
	ks.zero(ks.v(free))
	forEach(func(j int, x reg.VecPhysical) { VMAXSS(z, x, x) })
	JMP(LabelRef(label("store")))

	Label(label("relu6"))
	ks.zero(ks.v(free))
	hi := xmm(ks.v(free + 1))
	VMOVSS(six, hi)
	forEach(func(j int, x reg.VecPhysical) {
		VMAXSS(z, x, x)
		VMINSS(hi, x, x)
	})
	JMP(LabelRef(label("store")))

	Label(label("leaky"))
	ks.zero(ks.v(free))
	alpha := xmm(ks.v(free + 1))
	a, err := Param("alpha").Resolve()
	if err != nil {
		panic(err)
	}
	VMOVSS(a.Addr, alpha)
	tx := xmm(ks.v(free + 2))
	forEach(func(j int, x reg.VecPhysical) {
		VMINSS(z, x, tx)
		VMAXSS(z, x, x)
		VFMADD231SS(alpha, tx, x)
	})

	Label(label("store"))
	cp := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	for r := range acc {
		if r > 0 {
			ADDQ(ldc, cp)
		}
		for j, a := range acc[r] {
			VMOVSS(xmm(a), Mem{Base: cp, Disp: 4 * j})
		}
	}
}

// laneMask is the mask of the first count lanes: a vector for vmaskmovps
// (AVX2) or an opmask register (AVX-512).
type laneMask struct {
	v reg.VecPhysical
	k reg.OpmaskVirtual
}

// maskRegs emits code that builds the mask of the first count lanes in
// vector register free (AVX2) or an opmask register (AVX-512).
func maskRegs(s shape, count reg.Register, free int) laneMask {
	m := s.loadMasks(count, free)
	if !s.opmask {
		return laneMask{v: m[0]}
	}
	k := K()
	VPTESTMD(m[0], m[0], k)
	return laneMask{k: k}
}

// xmm returns the 128-bit view of a vector register.
func xmm(v reg.VecPhysical) reg.VecPhysical { return xmmRegs[v.PhysicalIndex()] }

var xmmRegs = []reg.VecPhysical{
	reg.X0, reg.X1, reg.X2, reg.X3, reg.X4, reg.X5, reg.X6, reg.X7,
	reg.X8, reg.X9, reg.X10, reg.X11, reg.X12, reg.X13, reg.X14, reg.X15,
	reg.X16, reg.X17, reg.X18, reg.X19, reg.X20, reg.X21, reg.X22, reg.X23,
	reg.X24, reg.X25, reg.X26, reg.X27, reg.X28, reg.X29, reg.X30, reg.X31,
}

func log2(n int) int {
	e := 0
	for 1<<e < n {
		e++
	}
	return e
}
