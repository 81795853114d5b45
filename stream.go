package upscaler

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"io"

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
// output's width but not with its height. WebP is encoded from the whole
// output. When the call fails or is cancelled, w may have received part of
// an image. A call cancelled after its last patch still returns the
// cancellation, so that its output is not taken for complete.
func (u *Upscaler) UpscaleTo(ctx context.Context, w io.Writer, input any, f Format, quality int, opts *Options) error {
	if opts == nil {
		opts = &Options{}
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
	switch {
	case alpha != nil && opts.Alpha == AlphaModel:
		img.alpha = alpha
		img.alphaRunner = &patchRunner{u: u, model: model, img: greyPixels(alpha), plan: plan}
	case alpha != nil:
		img.alpha, img.scaler = alpha, newAlphaScaler(alpha, u.def.Scale)
	}
	if err := imageio.Encode(w, img, imageio.Format(f), quality); err != nil {
		return err
	}
	return img.err
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
	// the plan; a final entry holds the patch count.
	rows []int
	next int // the next row of patches to run

	bands []*image.NRGBA // computed bands still needed, top first
	spare *image.NRGBA   // a dropped band whose pixels can be reused
	err   error          // the first error; later pixels read as black

	// alpha is the input's alpha plane, nil when it is opaque. Either
	// scaler enlarges it band by band into alphaRows, or alphaRunner runs
	// it through the model as a grey image (AlphaModel).
	alpha       *tensor.Tensor
	scaler      *alphaScaler
	alphaRunner *patchRunner
	alphaRows   []float32
}

func newBandImage(ctx context.Context, r *patchRunner) *bandImage {
	s := r.u.def.Scale
	b := &bandImage{ctx: ctx, runner: r, rect: image.Rect(0, 0, r.img.w*s, r.img.h*s)}
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

// Opaque reports whether the input had no transparency. Encoders ask for
// it before choosing a colour type.
func (b *bandImage) Opaque() bool { return b.alpha == nil }

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
	kept := b.bands[:0]
	for _, band := range b.bands {
		if band.Rect.Max.Y > strip {
			kept = append(kept, band)
		} else {
			b.spare = band
		}
	}
	b.bands = kept
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
	s := r.u.def.Scale
	first, end := b.rows[t], b.rows[t+1]
	keep := r.plan.patches[first].Keep
	rect := image.Rect(0, keep.Min.Y*s, b.rect.Max.X, keep.Max.Y*s)

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
		n := rect.Dx() * rect.Dy()
		if cap(b.alphaRows) < n {
			b.alphaRows = make([]float32, n)
		}
		rows := b.alphaRows[:n]
		if ar := b.alphaRunner; ar != nil {
			if ar.out == nil || cap(ar.out.Data) < 3*n {
				ar.out = tensor.New(rect.Dy(), rect.Dx(), 3)
			}
			ar.out = &tensor.Tensor{Shape: []int{rect.Dy(), rect.Dx(), 3}, Data: ar.out.Data[:3*n]}
			ar.outY0 = rect.Min.Y
			for i := first; i < end; i++ {
				if err := ar.runPatch(b.ctx, i); err != nil {
					b.err = err
					return nil
				}
			}
			greyMean(ar.out.Data, rows)
		} else {
			b.scaler.rows(rect.Min.Y, rect.Max.Y, rows)
		}
		pinAlpha(b.alpha, s, rect.Min.Y, rect.Max.Y, rows)
		for i, a := range rows {
			band.Pix[4*i+3] = toUint8(a)
		}
	}
	return band
}
