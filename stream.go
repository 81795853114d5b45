package upscaler

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"io"
	"slices"

	"github.com/upscaler-go/upscaler/internal/imageio"
	"github.com/upscaler-go/upscaler/nn"
	"github.com/upscaler-go/upscaler/tensor"
)

// UpscaleToFile upscales input as Upscale does and writes the result to
// path as Result.WriteFile does, with the same pixels and the same bytes.
// PNG and JPEG are encoded while the model runs, as UpscaleTo describes.
// The file is written to a temporary name and renamed into place, so a
// failed or cancelled call leaves nothing behind, even when it is cancelled
// after the last patch. An existing file is an error, matching
// fs.ErrExist, before any work starts, unless wopts.Overwrite is set.
func (u *Upscaler) UpscaleToFile(ctx context.Context, input any, path string, opts *Options, wopts *WriteOptions) error {
	if wopts == nil {
		wopts = &WriteOptions{}
	}
	var upscaleErr error
	err := imageio.WriteAtomic(path, wopts.Overwrite, func(w io.Writer) error {
		upscaleErr = u.UpscaleTo(ctx, w, input, wopts.format(path), wopts.Quality, opts)
		return upscaleErr
	})
	if upscaleErr != nil {
		return upscaleErr
	}
	return writeError(path, err)
}

// UpscaleTo upscales input as Upscale does and encodes the result to w in
// format f at quality (1..100 for JPEG and WebP, 0 for the default), as
// Result.Encode does, with the same bytes.
//
// PNG and JPEG are encoded while the model runs, one row of patches at a
// time, and only the rows the encoder still needs are held. No float32
// output tensor is made, and with patches the memory grows with the
// output's width but not with its height. An input with transparency also
// holds the output's alpha channel for PNG, one byte a pixel. WebP is
// encoded from the whole output. When the call fails or is cancelled, w may
// have received the start of an image, never a complete one, except that a
// call cancelled after its last patch still returns the cancellation.
func (u *Upscaler) UpscaleTo(ctx context.Context, w io.Writer, input any, f Format, quality int, opts *Options) error {
	if opts == nil {
		opts = &Options{}
	}
	switch f {
	case PNG, JPEG, WebP:
	default:
		return fmt.Errorf("%w: format %q: use png, jpeg or webp", ErrOptions, f)
	}
	if quality < 0 || quality > 100 {
		return fmt.Errorf("%w: quality %d: use 1 to 100, or 0 for the default", ErrOptions, quality)
	}
	cctx, c, model, err := u.begin(ctx)
	if err != nil {
		return err
	}
	defer u.end(c)
	if cctx.Err() != nil {
		return stopError(ctx, cctx)
	}
	err = u.encodeTo(cctx, model, w, input, f, quality, opts)
	if cctx.Err() != nil {
		return stopError(ctx, cctx)
	}
	return err
}

func (u *Upscaler) encodeTo(ctx context.Context, model *nn.Model, w io.Writer, input any, f Format, quality int, opts *Options) error {
	rgb, alpha, plan, err := u.prepare(input, opts)
	if err != nil {
		return err
	}
	if f != PNG && f != JPEG {
		// Other encoders take the whole image, or read it out of order.
		res, err := u.upscaleDecoded(ctx, model, rgb, alpha, plan, opts)
		if err != nil {
			return err
		}
		return res.Encode(w, f, quality)
	}
	if f == JPEG {
		// JPEG stores no alpha: the encoder would read the whole image
		// to drop it, and the colour it keeps does not depend on it.
		alpha = nil
	}
	img := newBandImage(ctx, &patchRunner{u: u, model: model, img: rgb, plan: plan,
		progress: opts.Progress, withOutput: opts.ProgressOutput})
	if alpha != nil {
		// The PNG encoder calls Opaque before it reads a pixel, and the
		// result must match the 8-bit alpha channel of Result.Image, so
		// that channel is computed first.
		if err := img.enlargeAlpha(alpha, opts.Alpha); err != nil {
			return err
		}
	}
	// A failed band stops the encoder at its next write, so w does not get
	// a complete image with black rows.
	if err := imageio.Encode(stopWriter{w, img}, img, imageio.Format(f), quality); err != nil && img.err == nil {
		return err
	}
	return img.err
}

// stopWriter passes writes to w until img has failed.
type stopWriter struct {
	w   io.Writer
	img *bandImage
}

func (s stopWriter) Write(p []byte) (int, error) {
	if s.img.err != nil {
		return 0, s.img.err
	}
	return s.w.Write(p)
}

// bandImage is the 8-bit output of one upscale as an image.Image whose
// rows are computed one row of patches (a band) at a time, when an encoder
// first reads them. Encoders read top to bottom, and JPEG reads strips of up
// to 16 rows, so the bands that overlap the current strip are kept.
type bandImage struct {
	ctx    context.Context
	runner *patchRunner
	rect   image.Rectangle
	// rows lists, for each row of patches, the index of its first patch in
	// the plan, and ends with the patch count.
	rows []int
	next int // the next row of patches to run

	bands []*image.NRGBA // computed bands still needed, top first
	spare *image.NRGBA   // a dropped band whose pixels can be reused
	err   error          // the first error, after which pixels read as black

	// alpha is the output's 8-bit alpha channel, one byte a pixel, or nil
	// when the input is opaque. opaque reports whether every byte is 255.
	alpha  []uint8
	opaque bool
}

func newBandImage(ctx context.Context, r *patchRunner) *bandImage {
	s := r.u.def.Scale
	b := &bandImage{ctx: ctx, runner: r, rect: image.Rect(0, 0, r.img.w*s, r.img.h*s), opaque: true}
	patches := r.plan.patches
	for i, pt := range patches {
		if i == 0 || pt.Keep.Min.Y != patches[i-1].Keep.Min.Y {
			b.rows = append(b.rows, i)
		}
	}
	b.rows = append(b.rows, len(patches))
	return b
}

func (b *bandImage) ColorModel() color.Model { return color.NRGBAModel }
func (b *bandImage) Bounds() image.Rectangle { return b.rect }

// Opaque reports whether every output pixel has alpha 255, as for the
// image Result.Image returns. Encoders ask for it before choosing a colour
// type.
func (b *bandImage) Opaque() bool { return b.opaque }

func (b *bandImage) At(x, y int) color.Color { return b.NRGBAAt(x, y) }

// NRGBAAt returns the pixel at (x, y), running the rows of patches that
// cover it on first use.
func (b *bandImage) NRGBAAt(x, y int) color.NRGBA {
	if !(image.Point{x, y}.In(b.rect)) {
		return color.NRGBA{}
	}
	for _, band := range b.bands {
		if y < band.Rect.Max.Y {
			if y < band.Rect.Min.Y {
				if b.err == nil {
					b.err = fmt.Errorf("upscaler: the encoder read output row %d after it was released", y)
				}
				return color.NRGBA{}
			}
			return band.NRGBAAt(x, y)
		}
	}
	band := b.advance(y)
	if band == nil {
		return color.NRGBA{}
	}
	return band.NRGBAAt(x, y)
}

// advance runs rows of patches until one covers output row y and returns
// it, or nil after an error.
func (b *bandImage) advance(y int) *image.NRGBA {
	// Keep the bands that overlap the 16-row strip holding y.
	strip := y &^ 15
	needed := b.bands[:0]
	for _, band := range b.bands {
		if band.Rect.Max.Y > strip {
			needed = append(needed, band)
		} else {
			b.spare = band
		}
	}
	b.bands = needed
	for b.err == nil && b.next < len(b.rows)-1 {
		band := b.run(b.next)
		b.next++
		if band == nil {
			break
		}
		b.bands = append(b.bands, band)
		if y < band.Rect.Max.Y {
			return band
		}
	}
	return nil
}

// run computes row t of patches into a band.
func (b *bandImage) run(t int) *image.NRGBA {
	r := b.runner
	first, end, y0, y1 := b.band(t)
	rect := image.Rect(0, y0, b.rect.Max.X, y1)

	band := b.spare
	b.spare = nil
	if band == nil || cap(band.Pix) < 4*rect.Dx()*rect.Dy() {
		band = image.NewNRGBA(rect)
	} else {
		band = &image.NRGBA{Pix: band.Pix[:4*rect.Dx()*rect.Dy()], Stride: 4 * rect.Dx(), Rect: rect}
	}
	r.band = band

	for i := first; i < end; i++ {
		if err := r.runPatch(b.ctx, i); err != nil {
			b.err = err
			return nil
		}
	}

	// The alpha channel, which the patches left opaque.
	if b.alpha != nil {
		alpha := b.alpha[rect.Min.Y*rect.Dx():][:rect.Dx()*rect.Dy()]
		for i, v := range alpha {
			band.Pix[4*i+3] = v
		}
	}
	return band
}

// enlargeAlpha computes the output's 8-bit alpha channel from the input's
// alpha plane, one row of patches at a time, as Upscale and Result.Image
// compute it.
func (b *bandImage) enlargeAlpha(alpha *tensor.Tensor, mode AlphaMode) error {
	r := b.runner
	enlarger := r.u.newAlphaEnlarger(r.model, alpha, r.plan, mode)
	w := b.rect.Dx()
	b.alpha = make([]uint8, w*b.rect.Dy())
	var rows []float32
	for t := range len(b.rows) - 1 {
		first, end, y0, y1 := b.band(t)
		rows = slices.Grow(rows[:0], w*(y1-y0))[:w*(y1-y0)]
		if err := enlarger.rows(b.ctx, first, end, y0, y1, rows); err != nil {
			return err
		}
		for i, v := range rows {
			b.alpha[y0*w+i] = toUint8(v)
			b.opaque = b.opaque && b.alpha[y0*w+i] == 255
		}
	}
	return nil
}

// band returns the patches [first, end) of row t of patches and the output
// rows [y0, y1) they cover.
func (b *bandImage) band(t int) (first, end, y0, y1 int) {
	s := b.runner.u.def.Scale
	first, end = b.rows[t], b.rows[t+1]
	keep := b.runner.plan.patches[first].Keep
	return first, end, keep.Min.Y * s, keep.Max.Y * s
}
