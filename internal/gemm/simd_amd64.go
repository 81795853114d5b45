//go:build amd64 && !purego

package gemm

import "fmt"

// Flag bits of the assembly kernels' flags argument. The generator in _gen
// emits code for the same values.
const (
	flagAccumulate = 1 // add the partial sums already stored in C
	flagBias       = 2 // add the bias
	actShift       = 2 // flags>>actShift is the Activation
)

// kernelID names one generated assembly kernel. Mul calls the kernels
// directly through call rather than through func values, because a pointer
// passed through a func value escapes, which would move the padded bias of
// every Mul call to the heap.
type kernelID uint8

const (
	idAVX2x6x16 kernelID = iota
	idAVX2x12x8
	idAVX512x14x32
	idAVX512x14x16
	idDotAVX2x8x1
	idDotAVX2x6x2
	idDotAVX2x4x3
	idDotAVX2x2x4
	idDotAVX512x12x1
	idDotAVX512x10x2
	idDotAVX512x8x3
	idDotAVX512x6x4
)

// maxDotN is the largest N that the thin-N kernels take. With N ≤ 4 a
// kernel that vectorises along the columns would use at most half of the
// lanes of each FMA.
const maxDotN = 4

// panelShape is one panel width of a SIMD kernel: nr columns of B per
// panel, mr rows per register block, and the assembly kernel for it.
type panelShape struct {
	nr, mr int
	id     kernelID
}

// simdShapes are the two panel widths of a SIMD kernel: two vectors wide
// for most columns, and one vector wide for a remainder that fits in one
// vector.
type simdShapes struct {
	wide, narrow panelShape
	// lanes is the vector width in floats and the chunk width of the
	// thin-N kernels. dot[j] is the thin-N kernel for N = j+1.
	lanes int
	dot   [maxDotN]kernelID
}

var (
	avx2Shapes = simdShapes{
		wide:   panelShape{nr: 16, mr: 6, id: idAVX2x6x16},
		narrow: panelShape{nr: 8, mr: 12, id: idAVX2x12x8},
		lanes:  8,
		dot:    [maxDotN]kernelID{idDotAVX2x8x1, idDotAVX2x6x2, idDotAVX2x4x3, idDotAVX2x2x4},
	}
	avx512Shapes = simdShapes{
		wide:   panelShape{nr: 32, mr: 14, id: idAVX512x14x32},
		narrow: panelShape{nr: 16, mr: 14, id: idAVX512x14x16},
		lanes:  16,
		dot:    [maxDotN]kernelID{idDotAVX512x12x1, idDotAVX512x10x2, idDotAVX512x8x3, idDotAVX512x6x4},
	}
)

// simdKernel is a Kernel built on the generated assembly. It is read-only
// after construction and safe for concurrent use.
type simdKernel struct {
	name string
	simdShapes
	kc int // maximum depth of one k-block
	mc int // maximum rows of one row block, a multiple of both mr
}

// newSIMDKernel sizes the cache blocks for a core with l1d bytes of level 1
// data cache and l2 bytes of level 2 cache. The kc×nr k-block of a wide
// panel takes half of L1, where each block of mr rows reuses it. The mc×kc
// block of A takes half of L2, where each panel reuses it.
func newSIMDKernel(name string, shapes simdShapes, l1d, l2 int) *simdKernel {
	kc := max(l1d/2/(4*shapes.wide.nr)&^(4-1), 64)
	step := lcm(shapes.wide.mr, shapes.narrow.mr)
	mc := max(l2/2/(4*kc)/step*step, step)
	return &simdKernel{name: name, simdShapes: shapes, kc: kc, mc: mc}
}

func lcm(a, b int) int {
	x, y := a, b
	for y != 0 {
		x, y = y, x%y
	}
	return a / x * b
}

func (s *simdKernel) Name() string { return s.name }

// panel returns the shape of the panel that starts with rest columns left.
// A remainder of up to one vector gets a narrow panel, and a wider
// remainder gets a masked wide panel.
func (s *simdKernel) panel(rest int) panelShape {
	if rest > s.narrow.nr {
		return s.wide
	}
	return s.narrow
}

// Pack copies b into panels of the kernel's widths. Each panel holds nr
// columns stored row after row (k-major), the columns past N zero, so that
// the kernels load one row of a panel as whole vectors. For N ≤ maxDotN it
// uses the chunked layout of packChunks instead. The data starts on a
// 64-byte boundary. Pack panics if k or n is negative or b has fewer than
// k·n elements.
func (s *simdKernel) Pack(b []float32, k, n int) *Packed {
	checkPack(b, k, n)
	if n > 0 && n <= maxDotN {
		return &Packed{K: k, N: n, Kernel: s.name, Data: packChunks(b, k, n, s.lanes)}
	}
	size := 0
	for j0 := 0; j0 < n; {
		p := s.panel(n - j0)
		size += k * p.nr
		j0 += min(p.nr, n-j0)
	}
	data := alignedFloats(size)
	off := 0
	for j0 := 0; j0 < n; {
		p := s.panel(n - j0)
		cols := min(p.nr, n-j0)
		for i := 0; i < k; i++ {
			copy(data[off+i*p.nr:off+i*p.nr+cols], b[i*n+j0:i*n+j0+cols])
		}
		off += k * p.nr
		j0 += cols
	}
	return &Packed{K: k, N: n, Kernel: s.name, Data: data}
}

// Unpack implements Kernel.
func (s *simdKernel) Unpack(p *Packed) []float32 {
	checkUnpack(p, s.name)
	k, n := p.K, p.N
	b := make([]float32, k*n)
	if n > 0 && n <= maxDotN {
		w := s.lanes
		for i := range k {
			for j := range n {
				b[i*n+j] = p.Data[i/w*w*n+j*w+i%w]
			}
		}
		return b
	}
	off := 0
	for j0 := 0; j0 < n; {
		pn := s.panel(n - j0)
		cols := min(pn.nr, n-j0)
		for i := range k {
			copy(b[i*n+j0:i*n+j0+cols], p.Data[off+i*pn.nr:])
		}
		off += k * pn.nr
		j0 += cols
	}
	return b
}

// Mul implements Kernel. It panics if b was packed by another kernel or if
// the sizes fail the checks of check.
//
// For N > maxDotN the loop order, outermost first, is blocks of mc rows,
// blocks of kc steps of k, panels of B, and inside the assembly kernel
// blocks of mr rows. Every k-block but the first adds to the partial sums
// that the previous one stored in C (the first too with ep.Accumulate), and
// only the last applies the bias and the activation. For N ≤ maxDotN one
// thin-N kernel call covers all of C.
func (s *simdKernel) Mul(m int, a []float32, lda int, b *Packed, c []float32, ldc int, ep Epilogue) {
	check(m, a, lda, b, c, ldc, ep)
	if b.Kernel != s.name {
		panic(fmt.Sprintf("gemm: the %s kernel cannot multiply a matrix packed by the %q kernel (pack it with %s)", s.name, b.Kernel, s.name))
	}
	if m <= 0 || b.N == 0 {
		return
	}
	k, n := b.K, b.N
	final := uint(ep.Act) << actShift
	if ep.Bias != nil {
		final |= flagBias
	}
	var first uint // flags of the first k-block
	if ep.Accumulate {
		first = flagAccumulate
	}
	if n <= maxDotN {
		// The thin-N kernels keep all of k in one pass: the n·k floats of
		// B are at most 23 KiB for the models' K ≤ 1440 and stay in L1,
		// and each row of A is read once.
		var ap, bp, bias *float32
		if k > 0 {
			ap, bp = &a[0], &b.Data[0]
		}
		if ep.Bias != nil {
			bias = &ep.Bias[0]
		}
		callDot(s.dot[n-1], m, k, ap, lda, bp, &c[0], ldc, first|final, bias, ep.Alpha)
		return
	}
	kc := blockDepth(k, s.kc)
	// pad holds the bias of a partial panel, zero past N: the kernels read
	// the bias of all nr columns.
	var pad [32]float32

	for i0 := 0; i0 < m; i0 += s.mc {
		rows := min(s.mc, m-i0)
		for k0 := 0; ; k0 += kc {
			depth := min(kc, k-k0)
			last := k0+depth >= k
			flags := first
			if k0 > 0 {
				flags = flagAccumulate
			}
			if last {
				flags |= final
			}
			// With k == 0 the kernels read neither A nor B and store the
			// epilogue of zero.
			var ap *float32
			if depth > 0 {
				ap = &a[i0*lda+k0]
			}
			off := 0
			for j0 := 0; j0 < n; {
				p := s.panel(n - j0)
				cols := min(p.nr, n-j0)
				var bp, bias *float32
				if depth > 0 {
					bp = &b.Data[off+k0*p.nr]
				}
				if flags&flagBias != 0 {
					if cols == p.nr {
						bias = &ep.Bias[j0]
					} else {
						copy(pad[:], ep.Bias[j0:j0+cols])
						clear(pad[cols:])
						bias = &pad[0]
					}
				}
				call(p.id, rows, depth, ap, lda, bp, &c[i0*ldc+j0], ldc, cols, flags, bias, ep.Alpha)
				off += k * p.nr
				j0 += cols
			}
			if last {
				break
			}
		}
	}
}

// blockDepth returns the depth of the k-blocks for a product of depth k:
// k split into equal blocks of at most kcMax, rounded up to a multiple of
// the kernels' 4-step unrolling.
func blockDepth(k, kcMax int) int {
	if k <= kcMax {
		return k
	}
	blocks := (k + kcMax - 1) / kcMax
	kc := (k + blocks - 1) / blocks
	return (kc + 3) &^ 3
}

// call runs the assembly kernel id.
func call(id kernelID, m, k int, a *float32, lda int, b, c *float32, ldc, ncols int, flags uint, bias *float32, alpha float32) {
	switch id {
	case idAVX2x6x16:
		mulAVX2x6x16(m, k, a, lda, b, c, ldc, ncols, flags, bias, alpha)
	case idAVX2x12x8:
		mulAVX2x12x8(m, k, a, lda, b, c, ldc, ncols, flags, bias, alpha)
	case idAVX512x14x32:
		mulAVX512x14x32(m, k, a, lda, b, c, ldc, ncols, flags, bias, alpha)
	case idAVX512x14x16:
		mulAVX512x14x16(m, k, a, lda, b, c, ldc, ncols, flags, bias, alpha)
	default:
		panic(fmt.Sprintf("gemm: unknown assembly kernel %d", id))
	}
}

// callDot runs the thin-N assembly kernel id.
func callDot(id kernelID, m, k int, a *float32, lda int, b, c *float32, ldc int, flags uint, bias *float32, alpha float32) {
	switch id {
	case idDotAVX2x8x1:
		dotAVX2x8x1(m, k, a, lda, b, c, ldc, flags, bias, alpha)
	case idDotAVX2x6x2:
		dotAVX2x6x2(m, k, a, lda, b, c, ldc, flags, bias, alpha)
	case idDotAVX2x4x3:
		dotAVX2x4x3(m, k, a, lda, b, c, ldc, flags, bias, alpha)
	case idDotAVX2x2x4:
		dotAVX2x2x4(m, k, a, lda, b, c, ldc, flags, bias, alpha)
	case idDotAVX512x12x1:
		dotAVX512x12x1(m, k, a, lda, b, c, ldc, flags, bias, alpha)
	case idDotAVX512x10x2:
		dotAVX512x10x2(m, k, a, lda, b, c, ldc, flags, bias, alpha)
	case idDotAVX512x8x3:
		dotAVX512x8x3(m, k, a, lda, b, c, ldc, flags, bias, alpha)
	case idDotAVX512x6x4:
		dotAVX512x6x4(m, k, a, lda, b, c, ldc, flags, bias, alpha)
	default:
		panic(fmt.Sprintf("gemm: unknown thin-N assembly kernel %d", id))
	}
}
