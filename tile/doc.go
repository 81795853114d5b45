// Package tile computes how an upscaler cuts a large image into equal-size
// windows (patches), and which region of each window's prediction it keeps.
//
// A model receives only the pixels inside its window, so its prediction near a
// window edge lacks context and shows seams when the pieces are joined. The
// windows therefore overlap by a padding, and only the inner region of each
// prediction, the kept region, goes into the result. The kept regions cover
// the image exactly once. The package does arithmetic only: it reads no
// pixels and runs no model.
//
// All sizes and coordinates are in input pixels. [Grid.Scaled] converts a
// plan to output pixels for a model with an integer scale factor.
//
// # One axis
//
// Each axis is cut on its own, the x axis with the image width and the y
// axis with the image height, by these rules:
//
//   - An axis no longer than the patch size gets one window that covers the
//     whole axis and keeps all of it. Such a window is shorter than the
//     patch size when the image is smaller than a patch.
//   - Otherwise the first window starts at 0 and keeps [0, patch-padding).
//   - Each later kept region starts at s, the end of the previous one. If
//     s+patch <= size, the window starts at s-padding and keeps
//     [s, s+patch-2*padding), which leaves padding pixels of context on
//     both sides of the kept region.
//   - Otherwise the window is the last one. It is shifted back so that it
//     ends at the image end, starting at size-patch, and keeps [s, size).
//
// The diagram shows a 9-pixel axis cut with patch size 5 and padding 1. K
// marks kept pixels and c marks context pixels that are cut away:
//
//	x          0 1 2 3 4 5 6 7 8
//	window 0   K K K K c             starts at 0, keeps [0,4)
//	window 1         c K K K c       starts at 3, keeps [4,7)
//	window 2           c c c K K     starts at 4, keeps [7,9)
//
// A shifted last window has at least one pixel of context before its kept
// region, but it can have fewer than padding pixels. A 9-pixel axis with
// patch size 6 and padding 2 is cut into a window at 0 that keeps [0,4) and
// a last window at 3 that keeps [4,9), with 1 pixel of context.
//
// These rules reproduce the patch layout of UpscalerJS, as implemented by
// getPatchesFromImage in packages/upscalerjs/src/shared/image-utils.ts and
// used by processPixels in upscale.ts of its repository, so every output
// pixel comes from the same window at the same offset in both libraries.
// There is one difference. When the last window has fewer than padding
// pixels of context, as in the example with patch size 6, UpscalerJS runs
// the model on one or more further windows at the same position and then
// trims their predictions off the end of its result. This package omits
// those windows, which saves model runs but gives a smaller patch count
// than UpscalerJS reports to its progress callback.
//
// # Two axes
//
// [Plan] combines the windows of both axes: every (row, column) pair is one
// [Patch], and the patches are listed in row-major order, row by row and
// left to right within a row. All windows of one plan have the same size,
// min(patch, width) by min(patch, height). A model that needs a fixed input
// size or a size divisible by some factor must pad smaller windows itself,
// and [RoundUp] rounds a patch size up to such a factor.
package tile
