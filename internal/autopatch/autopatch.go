// Package autopatch holds the rule by which the upscaler command and
// service cut large images into patches when the caller gives no patch
// size. One pass over a whole image takes about 1.5 KB per input pixel with
// the default model and esrgan-slim. The largest single pass the rule
// allows then takes about 400 MB, and a patch of Size with its padding
// about 100 MB (estimates from that rate).
package autopatch

import "github.com/upscaler-go/upscaler"

const (
	// MaxWholePixels is the largest input, width × height, that runs in
	// one pass.
	MaxWholePixels = 512 * 512
	// Size is the side of the patches larger inputs are cut into.
	Size = 256
)

// Apply sets opts to cut a w×h input into patches of Size when it has
// more than MaxWholePixels, with automatic padding unless paddingGiven.
// Padding already set in opts is kept.
func Apply(opts *upscaler.Options, w, h int, paddingGiven bool) {
	if w*h <= MaxWholePixels {
		return
	}
	opts.PatchSize = Size
	if !paddingGiven {
		opts.AutoPadding = true
	}
}
