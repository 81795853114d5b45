package nn

import (
	"context"

	"github.com/upscaler-go/upscaler/internal/gemm"
)

// Row passes: a convolution with stride 1 and dilation 1 skips im2col.
//
// Pad the input with zeros to (H+kh-1)×(W+kw-1) pixels of cin channels,
// stored densely. Then the kw pixels under kernel row ky for output pixel
// (y, x) are the kw·cin consecutive floats that start at pixel (y+ky, x)
// of the padded input, and those of pixel (y, x+1) start cin floats later.
// So for output row y and kernel row ky, A is the padded row y+ky read in
// place with lda = cin and K = kw·cin (neighbouring rows of A overlap),
// and B is rows [ky·kw·cin, (ky+1)·kw·cin) of the reshaped kernel. The
// output row is the sum of the kh products, which the GEMM accumulates in
// C. The bias and the activation come with the last product.
//
// Each chunk of r output rows pads only the r+kh-1 input rows it reads, so
// the input is copied 1+(kh-1)/r times, where im2col copies it kh·kw times.

// useRows reports whether a convolution with this geometry takes the row
// passes. In BenchmarkConv2DPaths they beat im2col for every channel count
// from 3 to 64 (AVX2), so even the first layer of a model, with K = 9 per
// pass, takes them.
func useRows(cfg ConvConfig, kh, kw int) bool {
	return cfg.StrideH == 1 && cfg.StrideW == 1 && cfg.DilationH == 1 && cfg.DilationW == 1 && kh*kw > 1
}

// packRows packs the HWIO kernel as kh matrices of kw·in rows and out
// columns, one per kernel row.
func packRows(kern gemm.Kernel, data []float32, kh, kw, inC, outC int) []*gemm.Packed {
	size := kw * inC * outC
	rows := make([]*gemm.Packed, kh)
	for ky := range rows {
		rows[ky] = kern.Pack(data[ky*size:(ky+1)*size], kw*inC, outC)
	}
	return rows
}

// bandRows returns how many output rows one chunk of the row passes
// covers: enough chunks to share among the workers, at most 8 rows.
func bandRows(outH, threads int) int {
	threads = max(threads, 1)
	return min(max((outH+4*threads-1)/(4*threads), 1), 8)
}

// forwardRows computes the convolution by row passes, splitting the output
// rows among the workers.
func (c *Conv2D) forwardRows(ctx context.Context, env *Env, src, out View, padT, padL int) error {
	if out.W == 0 {
		return nil
	}
	kern := gemm.Default()
	cin := c.inC
	rowLen := (out.W + c.kw - 1) * cin // floats in one padded input row
	upH, upW := max(c.upH, 1), max(c.upW, 1)
	return env.Parallel(out.H, bandRows(out.H, env.Threads()), func(worker, lo, hi int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		pad := env.Scratch(worker, (hi-lo+c.kh-1)*rowLen)
		iy0 := lo - padT
		padBand(pad, src, iy0, hi-lo+c.kh-1, rowLen, padL, upH, upW)

		for y := lo; y < hi; y++ {
			dst := out.Data[y*out.W*out.Stride:]
			for ky, b := range c.rows {
				var ep gemm.Epilogue // the partial sums of all but the last pass
				if ky == len(c.rows)-1 {
					ep = c.epilogue
				}
				ep.Accumulate = ky > 0
				r := bandRow(y-lo+ky, iy0, upH, src.H)
				kern.Mul(out.W, pad[r*rowLen:], cin, b, dst, out.Stride, ep)
			}
		}
		if c.postprocess {
			c.activate(out, lo*out.W, hi*out.W)
		}
		return nil
	})
}

// padBand writes rows input rows from row iy0 of src, enlarged upH×upW
// times by repeating pixels, to pad, each padded to rowLen floats: padL zero
// pixels, the row's pixels packed densely, then zeros. Rows outside the
// enlarged src are all zeros. A row that repeats an earlier row of the band
// is not written: bandRow gives the row to read instead.
func padBand(pad []float32, src View, iy0, rows, rowLen, padL, upH, upW int) {
	cin := src.C
	for r := range rows {
		dst := pad[r*rowLen : (r+1)*rowLen]
		iy := iy0 + r
		if iy < 0 || iy >= src.H*upH {
			clear(dst)
			continue
		}
		if bandRow(r, iy0, upH, src.H) != r {
			continue
		}
		clear(dst[:padL*cin])
		n := min(src.W*upW, rowLen/cin-padL) // pixels of the enlarged row that fit
		body := dst[padL*cin : (padL+n)*cin]
		sy := iy / upH
		switch {
		case upW == 1 && src.Stride == cin:
			copy(body, src.Data[sy*src.W*cin:])
		case upW == 1:
			for x := range n {
				copy(body[x*cin:(x+1)*cin], src.At(sy, x))
			}
		default:
			for x := range n {
				copy(body[x*cin:(x+1)*cin], src.At(sy, x/upW))
			}
		}
		clear(dst[(padL+n)*cin:])
	}
}

// bandRow returns the row of a band, padded by padBand from input row iy0
// on, that holds the data of row r: r itself, or with upH above 1 the
// band's first row enlarged from the same source row.
func bandRow(r, iy0, upH, srcH int) int {
	iy := iy0 + r
	if upH == 1 || iy < 0 || iy >= srcH*upH {
		return r
	}
	return max(iy/upH*upH-iy0, 0)
}
