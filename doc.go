// Package upscaler enlarges images with the UpscalerJS super-resolution
// models, in pure Go.
//
// An Upscaler holds one loaded model (by default the embedded
// @upscalerjs/default-model, a 2× ESRGAN) and upscales images or tensors
// with it, whole or in patches, from any number of goroutines at once:
//
//	u, err := upscaler.New(upscaler.Config{})
//	res, err := u.Upscale(ctx, "photo.jpg", nil)
//	err = res.WriteFile("photo@2x.png", nil)
//
// # Inputs and outputs
//
// Upscale accepts an image.Image of any colour model; encoded PNG, JPEG,
// GIF, WebP, BMP or TIFF as []byte or io.Reader; a file path or a base64
// data: URI as a string; or a tensor of shape [h, w, 3] or [1, h, w, 3]
// (4 channels for RGBA) holding values 0..255, as a *tensor.Tensor (float32)
// or a Uint8Tensor. Values outside 0..255 are rejected. The
// Result gives back an image, a float32 tensor [h·scale, w·scale, 3]
// clipped to 0..255 and not rounded (what UpscalerJS returns for tensor
// output), a PNG data: URI, or a PNG, JPEG or WebP file. Images come out
// with 8 bits per channel, whatever the input's depth.
//
// # Patches
//
// With Options.PatchSize the input is cut into equal windows exactly as
// UpscalerJS cuts them (see package tile): each window's prediction keeps
// only its own region, and Options.Padding pixels of context surround it on
// interior edges. Hard cuts can leave visible seams. Options.AutoPadding
// removes them: for a model whose receptive field fits in the patch (every
// slim and medium model at patch 32 or more), each kept region is given
// context of the full receptive radius, so tiled output equals one untiled
// pass; for a model whose receptive field is wider than any useful patch
// (esrgan-thick), the padding is a quarter of the patch, the largest that
// still keeps half of each window, which measured far closer to the untiled
// output than UpscalerJS's hard cut (see docs/tiling.md).
//
// # Memory
//
// Upscale reads a float32 RGB tensor, 8-bit RGB or opaque RGBA data, and an
// opaque *image.RGBA or *image.NRGBA in place. Other inputs are converted to
// float32 first, 12 bytes a pixel. Besides the input and the output tensor,
// a call in patches holds the feature maps of one window, so that part of
// its memory does not grow with the image. UpscaleToFile and UpscaleTo do
// not hold the output either: they encode PNG and JPEG one row of patches
// at a time.
//
// # Transparency
//
// UpscalerJS drops alpha; this package keeps it. The colour channels go
// through the model with the colour under fully transparent pixels replaced
// by the image's mean visible colour, so hidden colour never reaches the
// visible result. The alpha plane is enlarged separately (AlphaBicubic, the
// default, or AlphaModel, through the model as a grey image), then pixels
// that were fully transparent or fully opaque in the input stay so.
//
// # Cancellation
//
// Cancelling the context or calling Abort stops a call between patches and
// between layers; the error matches both ErrAborted and the context's error
// with errors.Is, and the Upscaler stays ready for the next call.
package upscaler
