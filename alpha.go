package upscaler

import (
	"context"
	"image"

	"golang.org/x/image/draw"

	"github.com/upscaler-go/upscaler/nn"
	"github.com/upscaler-go/upscaler/tensor"
)

// upscaleAlpha enlarges an alpha plane [h, w, 1] of 0..255 values, then
// pins the output of fully transparent and fully opaque input pixels.
func (u *Upscaler) upscaleAlpha(ctx context.Context, model *nn.Model, alpha *tensor.Tensor, p *plan, mode AlphaMode) (*tensor.Tensor, error) {
	h, w := alpha.Shape[0], alpha.Shape[1]
	s := u.def.Scale
	out := tensor.New(h*s, w*s, 1)
	switch mode {
	case AlphaModel:
		grey := tensor.New(h, w, 3)
		for i, a := range alpha.Data {
			grey.Data[i*3], grey.Data[i*3+1], grey.Data[i*3+2] = a, a, a
		}
		rgb, err := u.run(ctx, model, floatPixels(grey), p, nil, false)
		if err != nil {
			return nil, err
		}
		for i := range out.Data {
			out.Data[i] = (rgb.Data[i*3] + rgb.Data[i*3+1] + rgb.Data[i*3+2]) / 3
		}
	default:
		src := image.NewGray16(image.Rect(0, 0, w, h))
		for i, a := range alpha.Data {
			v := uint16(a*257 + 0.5)
			src.Pix[2*i], src.Pix[2*i+1] = byte(v>>8), byte(v)
		}
		dst := image.NewGray16(image.Rect(0, 0, w*s, h*s))
		draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
		for i := range out.Data {
			out.Data[i] = float32(uint16(dst.Pix[2*i])<<8|uint16(dst.Pix[2*i+1])) / 257
		}
	}

	// Fully transparent stays transparent and fully opaque stays opaque.
	for y := range h * s {
		for x := range w * s {
			a := alpha.Data[(y/s)*w+x/s]
			o := &out.Data[y*w*s+x]
			switch {
			case a == 0:
				*o = 0
			case a >= 255:
				*o = 255
			default:
				*o = min(max(*o, 0), 255)
			}
		}
	}
	return out, nil
}
