package nn

import (
	"context"
	"fmt"

	"github.com/upscaler-go/upscaler/internal/gemm"
)

// Phases: a "same" convolution over a nearest-neighbour enlargement.
//
// Enlarging by u repeats each input row u times. Output row Y·u + p of the
// convolution reads enlarged rows Y·u + p − padT + ky, which come from
// input rows Y + ⌊(p − padT + ky)/u⌋. For each phase p the kernel rows that
// land on the same input row are summed once, at compile time, which leaves
// a kernel of one to a few rows over the small map. Columns work the same
// way. A 3×3 kernel after a 4× enlargement reads 1.5 input rows per output
// row on average instead of 3.
//
// Summing weights first rounds differently from summing products, so the
// output can differ from the enlarged map's in the last bits of float32.

// phaseAxis describes one phase along one axis.
type phaseAxis struct {
	lo   int     // offset of the first input row (or column) the phase reads
	taps [][]int // taps[d]: the kernel rows landing on input row lo+d
}

// axisPhases returns the u phases of a kernel of size k enlarged by u with
// pad rows of zeros before the enlarged input.
func axisPhases(k, u, pad int) []phaseAxis {
	phases := make([]phaseAxis, u)
	for p := range u {
		lo, hi := floorDiv(p-pad, u), floorDiv(p-pad+k-1, u)
		a := phaseAxis{lo: lo, taps: make([][]int, hi-lo+1)}
		for ky := range k {
			d := floorDiv(p-pad+ky, u) - lo
			a.taps[d] = append(a.taps[d], ky)
		}
		phases[p] = a
	}
	return phases
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// phaseConv holds a convolution's kernels summed by phase. The column
// phases of one output row share a GEMM. Its A row is the input pixels that
// any column phase reads. Its upW·out columns are the upW enlarged pixels of
// one input pixel, which lie side by side in the output row. A column
// phase's part of B is zero for the input pixels it does not read.
type phaseConv struct {
	upH, upW int
	rows     []phaseAxis
	// colLo is the offset of the first input column any column phase
	// reads, and cols the number of columns they read together.
	colLo, cols int
	// first and last are the lowest and highest offsets of an input row
	// that any row phase reads.
	first, last int
	// b[py][d] is the (cols·in)×(upW·out) kernel of row phase py for input
	// row offset rows[py].lo + d.
	b    [][]*gemm.Packed
	bias []float32 // the bias repeated upW times
}

// newPhaseConv sums c's kernel by phase for an input enlarged upH×upW
// times. c must use the row passes and "same" padding.
func newPhaseConv(c *Conv2D, upH, upW int) (*phaseConv, error) {
	kern, err := gemm.Lookup(c.rows[0].Kernel)
	if err != nil {
		return nil, err
	}
	// A "same" convolution pads (k−1)/2 rows before the input.
	rows := axisPhases(c.kh, upH, (c.kh-1)/2)
	cols := axisPhases(c.kw, upW, (c.kw-1)/2)
	p := &phaseConv{upH: upH, upW: upW, rows: rows, colLo: cols[0].lo, first: rows[0].lo, last: rows[0].lo}
	colHi := cols[0].lo
	for _, a := range cols {
		p.colLo = min(p.colLo, a.lo)
		colHi = max(colHi, a.lo+len(a.taps)-1)
	}
	p.cols = colHi - p.colLo + 1
	for _, a := range rows {
		p.first = min(p.first, a.lo)
		p.last = max(p.last, a.lo+len(a.taps)-1)
	}
	if c.bias != nil {
		for range upW {
			p.bias = append(p.bias, c.bias...)
		}
	}

	// w[ky] is kernel row ky as a (kw·in)×out matrix.
	w := make([][]float32, c.kh)
	for ky, r := range c.rows {
		w[ky] = kern.Unpack(r)
	}
	cin, cout := c.inC, c.outC
	n := upW * cout
	p.b = make([][]*gemm.Packed, upH)
	for py, ra := range rows {
		for _, kys := range ra.taps {
			merged := make([]float32, p.cols*cin*n)
			for px, ca := range cols {
				for dx, kxs := range ca.taps {
					col := ca.lo + dx - p.colLo // input column offset within the A row
					for _, ky := range kys {
						for _, kx := range kxs {
							addTap(merged[col*cin*n+px*cout:], w[ky][kx*cin*cout:], cin, cout, n)
						}
					}
				}
			}
			p.b[py] = append(p.b[py], kern.Pack(merged, p.cols*cin, n))
		}
	}
	return p, nil
}

// addTap adds one kernel tap, cin rows of cout weights in src, to cin rows
// of dst that lie n floats apart.
func addTap(dst, src []float32, cin, cout, n int) {
	for ci := range cin {
		row := dst[ci*n:][:cout]
		for co, v := range src[ci*cout:][:cout] {
			row[co] += v
		}
	}
}

// forwardPhases computes the convolution of src enlarged by the phases'
// factors, splitting the input rows among the workers. out must be stored
// densely (Stride equal to C).
func (c *Conv2D) forwardPhases(ctx context.Context, env *Env, src, out View) error {
	p := c.phases
	if out.H != src.H*p.upH || out.W != src.W*p.upW {
		return fmt.Errorf("output %dx%d is not the %dx%d input enlarged %dx%d times", out.W, out.H, src.W, src.H, p.upW, p.upH)
	}
	kern := gemm.Default()
	cin := c.inC
	padL, padR := max(-p.colLo, 0), max(p.colLo+p.cols-1, 0)
	rowLen := (src.W + padL + padR) * cin
	a0 := (padL + p.colLo) * cin // A's first float in a padded row
	ldc := p.upW * c.outC
	epilogue := c.epilogue
	epilogue.Bias = p.bias
	return env.Parallel(src.H, bandRows(src.H, env.Threads()), func(worker, lo, hi int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		rows := hi - lo + p.last - p.first
		pad := env.Scratch(worker, rows*rowLen)
		padBand(pad, src, lo+p.first, rows, rowLen, padL, 1, 1)

		for y := lo; y < hi; y++ {
			for py, ra := range p.rows {
				dst := out.Data[(y*p.upH+py)*out.W*out.Stride:]
				mats := p.b[py]
				for d, b := range mats {
					var ep gemm.Epilogue // the partial sums of all but the last pass
					if d == len(mats)-1 {
						ep = epilogue
					}
					ep.Accumulate = d > 0
					r := y + ra.lo + d - (lo + p.first)
					kern.Mul(src.W, pad[r*rowLen+a0:], cin, b, dst, ldc, ep)
				}
			}
		}
		if c.postprocess {
			c.activate(out, lo*p.upH*out.W, hi*p.upH*out.W)
		}
		return nil
	})
}
