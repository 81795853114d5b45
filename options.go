package upscaler

import (
	"image"

	"github.com/upscaler-go/upscaler/tensor"
)

// Options tunes one Upscale call. A nil *Options means the zero value: the
// whole image in one pass, bicubic alpha, no progress.
type Options struct {
	// PatchSize, when above zero, cuts the input into square windows of
	// this many pixels per side, each run through the model separately.
	// Patches bound memory and make progress and cancellation finer.
	PatchSize int
	// Padding is the context, in input pixels, each window carries beyond
	// the region it keeps, on interior edges. Twice the padding must be
	// less than PatchSize.
	Padding int
	// AutoPadding chooses the padding from the model's receptive field
	// instead of Padding; see the package documentation.
	AutoPadding bool
	// Alpha selects how transparency is enlarged.
	Alpha AlphaMode
	// Progress, when set, is called after each patch, in order, on the
	// calling goroutine. It is not called without patches, except for
	// models with a fixed input size, which always run in patches.
	Progress func(Progress)
	// ProgressOutput adds each finished patch's output to Progress.
	ProgressOutput bool
	// MaxPixels limits the input's width × height; 0 means 100 megapixels.
	// Encoded images are checked from their header, before decoding.
	MaxPixels int64
}

// AlphaMode selects how the alpha channel is enlarged.
type AlphaMode uint8

const (
	// AlphaBicubic enlarges alpha with a Catmull-Rom bicubic filter: cheap
	// and smooth.
	AlphaBicubic AlphaMode = iota
	// AlphaModel runs alpha through the model as a grey image: sharper
	// edges, at the cost of a second model pass.
	AlphaModel
)

// String returns "bicubic" or "model".
func (m AlphaMode) String() string {
	if m == AlphaModel {
		return "model"
	}
	return "bicubic"
}

// Progress reports one finished patch.
type Progress struct {
	// Fraction is (Index+1)/Count: the share of patches done. The last
	// call has exactly 1.
	Fraction     float64
	Index, Count int
	Row, Col     int
	// Window is the input region the model saw; Keep is the region of the
	// input whose output the patch contributes. Both are in input pixels.
	Window, Keep image.Rectangle
	// Output is the patch's contribution, a [h, w, 3] tensor of 0..255
	// values covering Keep enlarged by the scale; set only with
	// Options.ProgressOutput. It is the caller's to keep.
	Output *tensor.Tensor
}

// Image returns Output as an opaque 8-bit image, or nil without Output.
func (p *Progress) Image() *image.NRGBA {
	if p.Output == nil {
		return nil
	}
	return toImage(p.Output, nil)
}
