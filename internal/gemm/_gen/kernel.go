package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// unroll is how many steps of k one pass of the main k-loop takes.
const unroll = 4

// Flag bits of the kernels' flags argument. kernel_amd64.go in package gemm
// defines the same values.
const (
	flagAccumulate = 1 // add the values already in C
	flagBias       = 2 // add bias[j]
	actShift       = 2 // flags>>actShift is the gemm.Activation
)

const signature = "func(m, k int, a *float32, lda int, b *float32, c *float32, ldc int, ncols int, flags uint, bias *float32, alpha float32)"

// genKernel emits one kernel function. It loops over blocks of s.mr rows and
// then runs a copy of the block code specialised for the remaining rows, so
// every row count from 1 to s.mr has straight-line code with no row masks.
func genKernel(s shape) {
	TEXT(s.funcName(), NOSPLIT, signature)
	Pragma("noescape")
	Doc(kernelDoc(s)...)

	// Full blocks: compute one, then move a and c down by mr rows.
	Label("rows")
	m := Load(Param("m"), GP64())
	CMPQ(m, U32(s.mr))
	JL(LabelRef("tail"))
	block(s, s.mr, "full")
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

	// The last m < mr rows, each count with its own copy of the block.
	Label("tail")
	m = Load(Param("m"), GP64())
	for r := 1; r < s.mr; r++ {
		CMPQ(m, U32(r))
		JEQ(LabelRef(fmt.Sprintf("rows%d", r)))
	}
	RET()
	for r := 1; r < s.mr; r++ {
		Label(fmt.Sprintf("rows%d", r))
		block(s, r, fmt.Sprintf("r%d", r))
		RET()
	}
}

// kernelDoc returns the stub's doc comment: the contract and the Go loop
// the kernel computes.
func kernelDoc(s shape) []string {
	nr := s.nr()
	return []string{
		fmt.Sprintf("%s multiplies m rows of A by one %d-column panel of packed B", s.funcName(), nr),
		fmt.Sprintf("with a %d×%d register block, using %s. It computes", s.mr, nr, s.name),
		"",
		"\tfor i := 0; i < m; i++ {",
		"\t\tfor j := 0; j < ncols; j++ {",
		"\t\t\tvar s float32",
		"\t\t\tfor p := 0; p < k; p++ {",
		fmt.Sprintf("\t\t\t\ts += a[i*lda+p] * b[p*%d+j]", nr),
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
		"with FMA and a different order of summation. It reads b[p*" + fmt.Sprint(nr) + "+j] and, with",
		fmt.Sprintf("flagBias, bias[j] for every j < %d, so both must be padded to the", nr),
		fmt.Sprintf("panel width. It writes only columns j < ncols (1 ≤ ncols ≤ %d).", nr),
	}
}

// block emits the code for one block of rows×s.nv vectors: the k-loop, then
// the store step that adds the old C, the bias and the activation.
func block(s shape, rows int, tag string) {
	label := func(name string) string { return tag + "_" + name }

	// Row r of A is at ap + r·lda·4. Write r as q·2^e with q odd, and keep
	// q·lda·4 in a register for each odd q, so every row address is one
	// base+index·scale operand and only ap moves in the loop.
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
	rowAddr := func(r, disp int) Mem {
		if r == 0 {
			return Mem{Base: ap, Disp: disp}
		}
		q, scale := r, 1
		for q%2 == 0 {
			q, scale = q/2, scale*2
		}
		if scale > 8 {
			panic(fmt.Sprintf("row %d needs index scale %d", r, scale))
		}
		return Mem{Base: ap, Index: odd[q], Scale: uint8(scale), Disp: disp}
	}

	acc := make([][]reg.VecPhysical, rows)
	for r := range acc {
		acc[r] = make([]reg.VecPhysical, s.nv)
		for v := range acc[r] {
			acc[r][v] = s.v(r*s.nv + v)
			s.zero(acc[r][v])
		}
	}
	free := rows * s.nv // first register after the accumulators
	forEachAcc := func(f func(r, v int, x reg.VecPhysical)) {
		for r := range acc {
			for v, x := range acc[r] {
				f(r, v, x)
			}
		}
	}

	// k-loop, unrolled by 4, then single steps for k mod 4.
	n := GP64()
	MOVQ(k, n)
	SHRQ(U8(2), n)
	TESTQ(n, n)
	JZ(LabelRef(label("k1")))
	Label(label("k4"))
	for u := 0; u < unroll; u++ {
		step(s, acc, free, bp, rowAddr, u)
	}
	ADDQ(U32(4*unroll), ap)
	ADDQ(U32(4*unroll*s.nr()), bp)
	DECQ(n)
	JNZ(LabelRef(label("k4")))
	Label(label("k1"))
	ANDQ(U32(unroll-1), k)
	JZ(LabelRef(label("epilogue")))
	Label(label("k1loop"))
	step(s, acc, free, bp, rowAddr, 0)
	ADDQ(U32(4), ap)
	ADDQ(U32(4*s.nr()), bp)
	DECQ(k)
	JNZ(LabelRef(label("k1loop")))

	Label(label("epilogue"))
	cp := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	flags := Load(Param("flags"), GP64())
	ncols := Load(Param("ncols"), GP64())
	forEachC := func(f func(r, v int, x reg.VecPhysical, m Mem)) {
		row := GP64()
		MOVQ(cp, row)
		for r := range acc {
			if r > 0 {
				ADDQ(ldc, row)
			}
			for v, x := range acc[r] {
				f(r, v, x, Mem{Base: row, Disp: 4 * s.lanes * v})
			}
		}
	}
	var kmask []reg.OpmaskVirtual
	if s.opmask {
		// AVX-512 masks every load and store of C. A lane is off when its
		// maskTable word is zero, which is the case for columns past ncols.
		masks := s.loadMasks(ncols, free)
		for _, x := range masks {
			km := K()
			VPTESTMD(x, x, km)
			kmask = append(kmask, km)
		}
	}

	// With flagAccumulate, add the partial sums that earlier k-blocks
	// stored in C.
	TESTQ(U32(flagAccumulate), flags)
	JZ(LabelRef(label("bias")))
	if s.opmask {
		forEachC(func(r, v int, x reg.VecPhysical, m Mem) { VADDPS_Z(m, x, kmask[v], x) })
	} else {
		CMPQ(ncols, U32(s.nr()))
		JNE(LabelRef(label("accmask")))
		forEachC(func(r, v int, x reg.VecPhysical, m Mem) { VADDPS(m, x, x) })
		JMP(LabelRef(label("bias")))
		Label(label("accmask"))
		masks := s.loadMasks(ncols, free)
		t := s.v(free + s.nv)
		forEachC(func(r, v int, x reg.VecPhysical, m Mem) {
			VMASKMOVPS(m, masks[v], t)
			VADDPS(t, x, x)
		})
	}

	// The bias is padded to the panel width, so it needs no mask.
	Label(label("bias"))
	TESTQ(U32(flagBias), flags)
	JZ(LabelRef(label("act")))
	bias := Load(Param("bias"), GP64())
	forEachAcc(func(r, v int, x reg.VecPhysical) { VADDPS(Mem{Base: bias, Disp: 4 * s.lanes * v}, x, x) })

	// Activation: flags>>actShift is Linear 0, ReLU 1, ReLU6 2, LeakyReLU 3.
	Label(label("act"))
	act := GP64()
	MOVQ(flags, act)
	SHRQ(U8(actShift), act)
	CMPQ(act, U32(1))
	JEQ(LabelRef(label("relu")))
	CMPQ(act, U32(2))
	JEQ(LabelRef(label("relu6")))
	CMPQ(act, U32(3))
	JEQ(LabelRef(label("leaky")))
	JMP(LabelRef(label("store")))

	Label(label("relu"))
	z := s.v(free)
	s.zero(z)
	forEachAcc(func(r, v int, x reg.VecPhysical) { VMAXPS(z, x, x) })
	JMP(LabelRef(label("store")))

	Label(label("relu6"))
	s.zero(z)
	hi := s.v(free + 1)
	VBROADCASTSS(six, hi)
	forEachAcc(func(r, v int, x reg.VecPhysical) {
		VMAXPS(z, x, x)
		VMINPS(hi, x, x)
	})
	JMP(LabelRef(label("store")))

	// LeakyReLU(x) = max(x, 0) + alpha·min(x, 0), exact for either sign
	// because one of the two terms is zero.
	Label(label("leaky"))
	s.zero(z)
	alpha := s.v(free + 1)
	a, err := Param("alpha").Resolve()
	if err != nil {
		panic(err)
	}
	VBROADCASTSS(a.Addr, alpha)
	forEachAcc(func(r, v int, x reg.VecPhysical) {
		t := s.v(free + 2)
		VMINPS(z, x, t)
		VMAXPS(z, x, x)
		VFMADD231PS(alpha, t, x)
	})

	Label(label("store"))
	if s.opmask {
		forEachC(func(r, v int, x reg.VecPhysical, m Mem) { VMOVUPS(x, kmask[v], m) })
		return
	}
	CMPQ(ncols, U32(s.nr()))
	JNE(LabelRef(label("storemask")))
	forEachC(func(r, v int, x reg.VecPhysical, m Mem) { VMOVUPS(x, m) })
	JMP(LabelRef(label("done")))
	Label(label("storemask"))
	masks := s.loadMasks(ncols, free)
	forEachC(func(r, v int, x reg.VecPhysical, m Mem) { VMASKMOVPS(x, masks[v], m) })
	Label(label("done"))
}

// step emits one step of k: load a row of the B panel and add its product
// with each row's element of A to the accumulators.
func step(s shape, acc [][]reg.VecPhysical, free int, bp reg.Register, rowAddr func(r, disp int) Mem, u int) {
	b := make([]reg.VecPhysical, s.nv)
	for v := range b {
		b[v] = s.v(free + v)
		VMOVUPS(Mem{Base: bp, Disp: 4 * (u*s.nr() + v*s.lanes)}, b[v])
	}
	for r := range acc {
		x := rowAddr(r, 4*u)
		if s.opmask && s.nv == 1 {
			// One FMA per element of A: broadcast it inside the FMA.
			VFMADD231PS_BCST(x, b[0], acc[r][0])
			continue
		}
		t := s.v(free + s.nv)
		VBROADCASTSS(x, t)
		for v := range b {
			VFMADD231PS(t, b[v], acc[r][v])
		}
	}
}

// zero emits code that sets x to zero. The EVEX form of vxorps needs
// AVX512DQ, so the AVX-512 kernels use vpxord, which needs only AVX512F.
func (s shape) zero(x reg.VecPhysical) {
	if s.opmask {
		VPXORD(x, x, x)
		return
	}
	VXORPS(x, x, x)
}

// loadMasks emits code that loads one lane mask per vector of the panel:
// lane i of vector v is all ones when column v·lanes+i < ncols, else zero.
// Word 32-ncols+j of maskTable is that value for column j.
func (s shape) loadMasks(ncols reg.Register, free int) []reg.VecPhysical {
	base := GP64()
	LEAQ(maskTable, base)
	idx := GP64()
	MOVQ(U32(32), idx)
	SUBQ(ncols, idx)
	masks := make([]reg.VecPhysical, s.nv)
	for v := range masks {
		masks[v] = s.v(free + v)
		VMOVUPS(Mem{Base: base, Index: idx, Scale: 4, Disp: 4 * s.lanes * v}, masks[v])
	}
	return masks
}
