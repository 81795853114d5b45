package upscaler

import (
	"context"
	"math"

	"github.com/upscaler-go/upscaler/nn"
	"github.com/upscaler-go/upscaler/tensor"
)

// upscaleAlpha enlarges an alpha plane [h, w, 1] of 0..255 values, then
// pins the output of fully transparent and fully opaque input pixels.
func (u *Upscaler) upscaleAlpha(ctx context.Context, model *nn.Model, alpha *tensor.Tensor, p *plan, mode AlphaMode) (*tensor.Tensor, error) {
	h, w := alpha.Shape[0], alpha.Shape[1]
	s := u.def.Scale
	out := tensor.New(h*s, w*s, 1)
	if err := u.newAlphaEnlarger(model, alpha, p, mode).rows(ctx, 0, len(p.patches), 0, h*s, out.Data); err != nil {
		return nil, err
	}
	return out, nil
}

// alphaEnlarger enlarges an input's alpha plane into rows of the output's
// alpha channel, as the AlphaMode selects: with the Catmull-Rom filter, or
// through the model as a grey image.
type alphaEnlarger struct {
	alpha  *tensor.Tensor
	s      int
	scaler *alphaScaler // for AlphaBicubic
	grey   *patchRunner // for AlphaModel
}

func (u *Upscaler) newAlphaEnlarger(model *nn.Model, alpha *tensor.Tensor, p *plan, mode AlphaMode) *alphaEnlarger {
	e := &alphaEnlarger{alpha: alpha, s: u.def.Scale}
	if mode == AlphaModel {
		e.grey = &patchRunner{u: u, model: model, img: greyPixels(alpha), plan: p}
	} else {
		e.scaler = newAlphaScaler(alpha, e.s)
	}
	return e
}

// rows writes output rows [y0, y1), which patches [first, end) of the plan
// cover, to dst. Fully transparent and fully opaque input pixels are pinned
// and the rest clipped to 0..255.
func (e *alphaEnlarger) rows(ctx context.Context, first, end, y0, y1 int, dst []float32) error {
	if g := e.grey; g != nil {
		w := e.alpha.Shape[1] * e.s
		n := w * (y1 - y0)
		if g.out == nil || cap(g.out.Data) < 3*n {
			g.out = tensor.New(y1-y0, w, 3)
		}
		g.out = &tensor.Tensor{Shape: []int{y1 - y0, w, 3}, Data: g.out.Data[:3*n]}
		g.outY0 = y0
		for i := first; i < end; i++ {
			if err := g.runPatch(ctx, i); err != nil {
				return err
			}
		}
		greyMean(g.out.Data, dst)
	} else {
		e.scaler.rows(y0, y1, dst)
	}
	pinAlpha(e.alpha, e.s, y0, y1, dst)
	return nil
}

// greyPixels returns an alpha plane as a grey image for AlphaModel.
func greyPixels(alpha *tensor.Tensor) *pixels {
	grey := tensor.New(alpha.Shape[0], alpha.Shape[1], 3)
	for i, a := range alpha.Data {
		grey.Data[i*3], grey.Data[i*3+1], grey.Data[i*3+2] = a, a, a
	}
	return floatPixels(grey)
}

// greyMean writes the mean of each pixel's three channels in rgb to dst.
func greyMean(rgb, dst []float32) {
	for i := range dst {
		dst[i] = (rgb[i*3] + rgb[i*3+1] + rgb[i*3+2]) / 3
	}
}

// pinAlpha keeps fully transparent input pixels transparent and fully
// opaque ones opaque in output rows [y0, y1) of an alpha plane enlarged s
// times, held in dst, and clips the rest to 0..255.
func pinAlpha(alpha *tensor.Tensor, s, y0, y1 int, dst []float32) {
	w := alpha.Shape[1]
	for y := y0; y < y1; y++ {
		row := dst[(y-y0)*w*s:][:w*s]
		for x := range row {
			switch a := alpha.Data[(y/s)*w+x/s]; {
			case a == 0:
				row[x] = 0
			case a >= 255:
				row[x] = 255
			default:
				row[x] = min(max(row[x], 0), 255)
			}
		}
	}
}

// alphaScaler enlarges an alpha plane by an integer factor with the
// Catmull-Rom cubic filter, any band of output rows at a time, so that an
// upscale written row by row needs no float32 copy of the whole enlarged
// plane. At the image's edges the taps that fall outside are dropped and
// the rest renormalized.
type alphaScaler struct {
	src     []float32
	w, s    int
	colTaps []taps // for each output column
	rowTaps []taps // for each output row
	widened []float32
}

// taps are the source indices and weights of one output coordinate.
type taps struct {
	first  int // index of the first source sample
	n      int // number of samples used, at most 4
	weight [4]float64
}

func newAlphaScaler(alpha *tensor.Tensor, s int) *alphaScaler {
	h, w := alpha.Shape[0], alpha.Shape[1]
	return &alphaScaler{src: alpha.Data, w: w, s: s, colTaps: cubicTaps(w, s), rowTaps: cubicTaps(h, s)}
}

// cubicTaps returns the Catmull-Rom taps of the n·s output coordinates of
// an axis of n samples enlarged s times, output pixel centres mapped onto
// input pixel centres.
func cubicTaps(n, s int) []taps {
	out := make([]taps, n*s)
	for i := range out {
		c := (float64(i)+0.5)/float64(s) - 0.5
		base := int(math.Floor(c)) - 1
		var t taps
		sum := 0.0
		for k := range 4 {
			j := base + k
			if j < 0 || j >= n {
				continue
			}
			if t.n == 0 {
				t.first = j
			}
			t.weight[t.n] = catmullRom(c - float64(j))
			sum += t.weight[t.n]
			t.n++
		}
		for k := range t.n {
			t.weight[k] /= sum
		}
		out[i] = t
	}
	return out
}

// catmullRom is the Catmull-Rom cubic (Keys' cubic with a = -0.5) at
// distance d.
func catmullRom(d float64) float64 {
	d = math.Abs(d)
	switch {
	case d < 1:
		return (1.5*d-2.5)*d*d + 1
	case d < 2:
		return ((-0.5*d+2.5)*d-4)*d + 2
	}
	return 0
}

// rows writes output rows [y0, y1) to dst, row after row, unclipped.
func (a *alphaScaler) rows(y0, y1 int, dst []float32) {
	if y0 >= y1 {
		return
	}
	ow := a.w * a.s
	// The source rows these output rows read.
	lo, hi := a.rowTaps[y0].first, 0
	for y := y0; y < y1; y++ {
		hi = max(hi, a.rowTaps[y].first+a.rowTaps[y].n)
	}
	if need := (hi - lo) * ow; cap(a.widened) < need {
		a.widened = make([]float32, need)
	}
	// Widen each source row, then combine the widened rows.
	for r := lo; r < hi; r++ {
		src := a.src[r*a.w:][:a.w]
		wide := a.widened[(r-lo)*ow:][:ow]
		for x, t := range a.colTaps {
			v := 0.0
			for k := range t.n {
				v += t.weight[k] * float64(src[t.first+k])
			}
			wide[x] = float32(v)
		}
	}
	for y := y0; y < y1; y++ {
		t := a.rowTaps[y]
		row := dst[(y-y0)*ow:][:ow]
		for x := range row {
			v := 0.0
			for k := range t.n {
				v += t.weight[k] * float64(a.widened[(t.first+k-lo)*ow+x])
			}
			row[x] = float32(v)
		}
	}
}
