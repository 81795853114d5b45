package upscaler

import (
	"context"
	"fmt"
	"image"
	"math"

	"github.com/upscaler-go/upscaler/nn"
	"github.com/upscaler-go/upscaler/tensor"
	"github.com/upscaler-go/upscaler/tile"
)

// Upscale enlarges input by the model's scale. input is an image.Image,
// encoded image bytes ([]byte or io.Reader), a file path or data: URI
// (string), or a tensor (*tensor.Tensor, Uint8Tensor or *Uint8Tensor). A
// tensor has shape [h, w, c] or [1, h, w, c] and values 0..255, where c is 3,
// or 4 with alpha last. See the package documentation. The
// output is always exactly the input's size times the scale. Images and
// tensors are read in place, not copied, so they must not change until
// Upscale returns.
func (u *Upscaler) Upscale(ctx context.Context, input any, opts *Options) (*Result, error) {
	if opts == nil {
		opts = &Options{}
	}
	cctx, c, model, err := u.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer u.end(c)
	if cctx.Err() != nil {
		return nil, stopError(ctx, cctx)
	}
	res, err := u.upscale(cctx, model, input, opts)
	if err != nil && cctx.Err() != nil {
		return nil, stopError(ctx, cctx)
	}
	return res, err
}

func (u *Upscaler) upscale(ctx context.Context, model *nn.Model, input any, opts *Options) (*Result, error) {
	rgb, alpha, plan, err := u.prepare(input, opts)
	if err != nil {
		return nil, err
	}
	return u.upscaleDecoded(ctx, model, rgb, alpha, plan, opts)
}

// prepare decodes input and plans its model runs.
func (u *Upscaler) prepare(input any, opts *Options) (*pixels, *tensor.Tensor, *plan, error) {
	maxPixels := opts.MaxPixels
	if maxPixels <= 0 {
		maxPixels = defaultLimits.MaxPixels
	}
	rgb, alpha, err := decodeInput(input, maxPixels)
	if err != nil {
		return nil, nil, nil, err
	}
	plan, err := u.plan(rgb.w, rgb.h, opts)
	if err != nil {
		return nil, nil, nil, err
	}
	return rgb, alpha, plan, nil
}

// upscaleDecoded runs the plan over decoded colour and alpha.
func (u *Upscaler) upscaleDecoded(ctx context.Context, model *nn.Model, rgb *pixels, alpha *tensor.Tensor, plan *plan, opts *Options) (*Result, error) {
	out, err := u.run(ctx, model, rgb, plan, opts.Progress, opts.ProgressOutput)
	if err != nil {
		return nil, err
	}
	res := &Result{Tensor: out}
	if alpha != nil {
		if res.Alpha, err = u.upscaleAlpha(ctx, model, alpha, plan, opts.Alpha); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// plan lists the model runs that cover one image.
type plan struct {
	patches []tile.Patch
	// padTo returns the size a w×h window is padded to on the right and
	// bottom: the fixed input size, or the next multiple of the divisor.
	// A nil padTo means windows run as they are.
	padTo     func(w, h int) (int, int)
	patchMode bool // the image is cut into patches, so progress is reported
}

// plan checks the options against the model and cuts a w×h image.
func (u *Upscaler) plan(w, h int, opts *Options) (*plan, error) {
	d := &u.def
	patch, padding := opts.PatchSize, opts.Padding
	if patch < 0 || padding < 0 {
		return nil, fmt.Errorf("%w: patch size %d and padding %d must not be negative", ErrOptions, patch, padding)
	}
	if d.InputSize > 0 {
		if patch > 0 && patch != d.InputSize {
			u.log.Warn("patch size ignored: the model takes a fixed input size", "patchSize", patch, "inputSize", d.InputSize)
		}
		patch = d.InputSize
	} else if patch > 0 && d.Divisor > 1 {
		if r := tile.RoundUp(patch, d.Divisor); r != patch {
			u.log.Warn("patch size rounded up to a multiple of the model's divisibility factor", "patchSize", patch, "divisor", d.Divisor, "rounded", r)
			patch = r
		}
	}
	seamless := false
	if patch > 0 && opts.AutoPadding {
		padding, seamless = u.autoPadding(patch)
	}
	switch {
	case opts.PatchSize > 0 && padding == 0 && !opts.AutoPadding:
		u.log.Warn("patch size set without padding: seams may show between patches; set a padding or use auto padding", "patchSize", patch)
	case opts.Progress != nil && patch == 0:
		u.log.Warn("progress set without a patch size: it is only reported per patch", "hint", "set a patch size")
	}
	p := &plan{patchMode: patch > 0}
	if patch == 0 {
		p.patches = []tile.Patch{{Window: image.Rect(0, 0, w, h), Keep: image.Rect(0, 0, w, h)}}
	} else {
		grid, err := tile.Plan(w, h, patch, padding)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrOptions, err)
		}
		p.patches = grid.Patches
		if seamless {
			// The model takes any size, so every kept region gets its full
			// receptive radius of context, clipped to the image. Windows at
			// the image edge then read the same zero padding as an untiled
			// pass.
			bounds := image.Rect(0, 0, w, h)
			for i := range p.patches {
				k := p.patches[i].Keep
				p.patches[i].Window = image.Rect(k.Min.X-padding, k.Min.Y-padding, k.Max.X+padding, k.Max.Y+padding).Intersect(bounds)
			}
		}
	}
	switch {
	case d.InputSize > 0:
		size := d.InputSize
		p.padTo = func(int, int) (int, int) { return size, size }
	case d.Divisor > 1:
		div := d.Divisor
		p.padTo = func(w, h int) (int, int) { return tile.RoundUp(w, div), tile.RoundUp(h, div) }
	}
	return p, nil
}

// autoPadding returns the padding for auto mode and whether it covers the
// whole receptive field.
func (u *Upscaler) autoPadding(patch int) (int, bool) {
	r := int(math.Ceil(u.radius))
	if 2*r < patch && u.def.InputSize == 0 {
		return r, true
	}
	// The receptive field does not fit: a quarter of the patch keeps half
	// of each window and gives far more context than a hard cut.
	return max((patch-1)/4, 0), false
}

// run upscales h×w pixels of 0..255 values through the plan and returns
// the [h·s, w·s, 3] output clipped to 0..255.
func (u *Upscaler) run(ctx context.Context, model *nn.Model, img *pixels, p *plan, progress func(Progress), withOutput bool) (*tensor.Tensor, error) {
	s := u.def.Scale
	r := &patchRunner{u: u, model: model, img: img, plan: p, progress: progress, withOutput: withOutput}
	r.out = tensor.New(img.h*s, img.w*s, 3)
	for i := range p.patches {
		if err := r.runPatch(ctx, i); err != nil {
			return nil, err
		}
	}
	return r.out, nil
}

// patchRunner runs the windows of one plan through the model and writes
// each window's kept output to out, a float32 tensor of the whole output,
// or to band, 8-bit rows of it.
type patchRunner struct {
	u          *Upscaler
	model      *nn.Model
	img        *pixels
	plan       *plan
	progress   func(Progress)
	withOutput bool

	out   *tensor.Tensor
	outY0 int          // the output row that row 0 of out holds
	band  *image.NRGBA // its Rect is in output pixels

	// Windows mostly share one size, so the model's input and output
	// tensors are reused from patch to patch instead of becoming garbage.
	inBuf, predBuf *tensor.Tensor
}

// runPatch runs window i of the plan and writes its kept output.
func (r *patchRunner) runPatch(ctx context.Context, i int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	u, p, pt := r.u, r.plan, r.plan.patches[i]
	s := u.def.Scale
	inScale := u.def.In().Max / 255
	outMax := u.def.Out().Max

	// Copy the window, scaled into the model's input range and padded
	// with zeros to the size the model needs.
	win := pt.Window
	ww, wh := win.Dx(), win.Dy()
	pw, ph := ww, wh
	if p.padTo != nil {
		pw, ph = p.padTo(ww, wh)
	}
	if r.inBuf == nil || cap(r.inBuf.Data) < ph*pw*3 {
		r.inBuf = tensor.New(ph, pw, 3)
	} else {
		r.inBuf = &tensor.Tensor{Shape: []int{ph, pw, 3}, Data: r.inBuf.Data[:ph*pw*3]}
		if pw != ww || ph != wh {
			clear(r.inBuf.Data) // the padding must be zeros
		}
	}
	in := r.inBuf
	for y := range wh {
		r.img.row(win.Min.Y+y, win.Min.X, in.Data[y*pw*3:][:ww*3], inScale)
	}

	// Run the model.
	var err error
	if u.def.PreProcess != nil {
		if in, err = u.def.PreProcess(in); err != nil {
			return fmt.Errorf("upscaler: pre-processing: %w", err)
		}
	}
	pred, err := r.model.RunInto(ctx, in, r.predBuf)
	if err != nil {
		return err
	}
	r.predBuf = pred
	if u.def.PostProcess != nil {
		if pred, err = u.def.PostProcess(pred); err != nil {
			return fmt.Errorf("upscaler: post-processing: %w", err)
		}
	}
	ph2, pw2, pc, err := pred.HWC()
	if err != nil || ph2 < wh*s || pw2 < ww*s || pc != 3 {
		return fmt.Errorf("upscaler: model %s returned shape %v for a %d×%d window; want at least [%d, %d, 3]", u.def.String(), pred.Shape, ww, wh, wh*s, ww*s)
	}

	// Keep the patch's own region, clipped to the output range and
	// brought to 0..255.
	keep := pt.Keep.Sub(win.Min)
	kw := keep.Dx() * s
	var patchOut *tensor.Tensor
	if r.withOutput && r.progress != nil {
		patchOut = tensor.New(keep.Dy()*s, kw, 3)
	}
	for y := keep.Min.Y * s; y < keep.Max.Y*s; y++ {
		src := pred.Data[(y*pw2+keep.Min.X*s)*3:][:kw*3]
		ox, oy := (win.Min.X+keep.Min.X)*s, win.Min.Y*s+y
		var dst []float32
		switch {
		case r.out != nil:
			dst = r.out.Data[((oy-r.outY0)*r.out.Shape[1]+ox)*3:][:len(src)]
		case patchOut != nil:
			dst = patchOut.Data[(y-keep.Min.Y*s)*kw*3:][:len(src)]
		}
		if dst != nil {
			for j, v := range src {
				dst[j] = toByteRange(v, outMax)
			}
		}
		if r.band != nil {
			pix := r.band.Pix[r.band.PixOffset(ox, oy):][:kw*4]
			for x := range kw {
				pix[4*x] = toUint8(toByteRange(src[3*x], outMax))
				pix[4*x+1] = toUint8(toByteRange(src[3*x+1], outMax))
				pix[4*x+2] = toUint8(toByteRange(src[3*x+2], outMax))
				pix[4*x+3] = 255
			}
		}
		if patchOut != nil && r.out != nil {
			copy(patchOut.Data[(y-keep.Min.Y*s)*kw*3:], dst)
		}
	}
	if r.progress != nil && p.patchMode {
		r.progress(Progress{
			Fraction: float64(i+1) / float64(len(p.patches)), Index: i, Count: len(p.patches),
			Row: pt.Row, Col: pt.Col, Window: pt.Window, Keep: pt.Keep, Output: patchOut,
		})
	}
	return nil
}

// toByteRange clips v to [0, top], the model's output range, and maps it to
// 0..255. NaN becomes 0, so the output is always finite.
func toByteRange(v, top float32) float32 {
	if !(v > 0) {
		return 0
	}
	if v > top {
		v = top
	}
	if top != 255 {
		v *= 255 / top
	}
	return v
}
