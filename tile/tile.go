package tile

import (
	"errors"
	"fmt"
	"image"
	"math"
)

// MaxPatches is the maximum number of windows that [Spans] returns for one
// axis and that [Plan] returns for one image. It is a chosen guard, not a
// measured bound: each window costs one model run, so a plan this large
// means the patch size is far too small for the image. At the limit the
// Patches slice of a plan takes about 1.4 GiB on 64-bit platforms.
const MaxPatches = 1 << 24

// ErrInvalid is matched by errors.Is for every error that this package
// returns. The error text names the rejected values and what to change.
var ErrInvalid = errors.New("tile: invalid argument")

// invalidError is the type of every error that this package returns.
type invalidError string

func (e invalidError) Error() string { return "tile: " + string(e) }

func (e invalidError) Is(target error) bool { return target == ErrInvalid }

func invalidf(format string, args ...any) error {
	return invalidError(fmt.Sprintf(format, args...))
}

// Span is one window along one axis, in input pixels.
//
// The window covers [Start, Start+Size) of the axis. KeepStart is the
// offset of the kept region from the window's start, so the kept region
// covers [Start+KeepStart, Start+KeepStart+KeepSize) of the axis.
type Span struct {
	Start, Size         int
	KeepStart, KeepSize int
}

// Spans cuts an axis of size pixels into windows of patch pixels that
// overlap by padding pixels, by the rules in the package documentation.
// The windows are returned in order of position, and their kept regions
// cover [0, size) exactly once.
//
// Spans returns an error wrapping [ErrInvalid] if size or patch is below 1,
// if padding is negative, if 2*padding is not less than patch, or if the
// axis needs more than [MaxPatches] windows.
func Spans(size, patch, padding int) ([]Span, error) {
	if err := checkPatch(patch, padding); err != nil {
		return nil, err
	}
	if size < 1 {
		return nil, invalidf("image size %d is invalid: an axis must be at least 1 pixel long", size)
	}
	n := spanCount(size, patch, padding)
	if n > MaxPatches {
		return nil, invalidf("patch size %d with padding %d cuts %d pixels into %d windows, more than the maximum %d: use a larger patch size",
			patch, padding, size, n, MaxPatches)
	}
	return cut(size, patch, padding, n), nil
}

// checkPatch rejects patch sizes and paddings for which the windows cannot
// advance along the axis.
func checkPatch(patch, padding int) error {
	if patch < 1 {
		return invalidf("patch size %d is invalid: use a patch size of at least 1 pixel", patch)
	}
	if padding < 0 {
		return invalidf("padding %d is negative: use 0 for no padding", padding)
	}

	// Each interior window keeps patch-2*padding pixels, which must be at
	// least 1. The test is written as a difference so it cannot overflow.
	if padding >= patch-padding {
		return invalidf("padding %d is too large for patch size %d: twice the padding must be less than the patch size",
			padding, patch)
	}
	return nil
}

// spanCount returns len(cut(size, patch, padding, 0)) without allocating,
// for arguments that passed checkPatch and a size of at least 1. No
// intermediate value exceeds size, so it cannot overflow.
func spanCount(size, patch, padding int) int {
	if size <= patch {
		return 1
	}

	// The first window keeps [0, first). Interior windows keep step pixels
	// starting at first, first+step, and so on, while s+patch <= size.
	first := patch - padding
	step := patch - 2*padding
	interior := 0
	if room := size - patch - first; room >= 0 {
		interior = room/step + 1
	}

	// A last, shifted window follows unless the interior windows already
	// reach the end, which happens only with padding 0.
	n := 1 + interior
	if first+interior*step < size {
		n++
	}
	return n
}

// cut returns the windows of one axis. The arguments must have passed
// checkPatch, size must be at least 1, and n only sets the capacity of the
// result.
func cut(size, patch, padding, n int) []Span {
	spans := make([]Span, 0, n)
	if size <= patch {
		return append(spans, Span{Start: 0, Size: size, KeepStart: 0, KeepSize: size})
	}
	spans = append(spans, Span{Start: 0, Size: patch, KeepStart: 0, KeepSize: patch - padding})

	step := patch - 2*padding
	for s := patch - padding; s < size; s += step {
		// The comparison means s+patch > size, written so it cannot
		// overflow. Such a window would run past the image end, so it is
		// the last one and moves back to end exactly at the image end.
		if patch > size-s {
			start := size - patch
			spans = append(spans, Span{Start: start, Size: patch, KeepStart: s - start, KeepSize: size - s})
			break
		}
		spans = append(spans, Span{Start: s - padding, Size: patch, KeepStart: padding, KeepSize: step})
	}
	return spans
}

// Patch is one window of a [Grid] together with the region of its
// prediction that is kept. Both rectangles are in image coordinates, in
// input pixels unless the grid came from [Grid.Scaled].
type Patch struct {
	// Row and Col are the patch's position in the grid, counted from the
	// top left. Index is its position in Grid.Patches, Row*Cols+Col.
	Row, Col, Index int

	// Window is the region of the image that the model receives.
	Window image.Rectangle

	// Keep is the region of the result that this patch fills. It lies
	// inside Window, and the Keep rectangles of a grid tile the image.
	Keep image.Rectangle
}

// KeepInWindow returns Keep translated to window coordinates, where the
// window's top-left pixel is (0, 0). It is the region to crop from the
// model's prediction for this patch.
func (p Patch) KeepInWindow() image.Rectangle {
	return p.Keep.Sub(p.Window.Min)
}

// Grid is the plan for cutting one image into patches.
//
// A Grid is a plain value. Copies share the Patches slice, and nothing in
// this package modifies a Grid after returning it.
type Grid struct {
	// Width and Height are the image size that the plan covers.
	Width, Height int

	// Rows and Cols count the windows along the y and x axes.
	Rows, Cols int

	// Patches lists the Rows*Cols patches in row-major order.
	Patches []Patch
}

// WindowSize returns the size shared by every window of the grid, or the
// zero point for a grid with no patches.
func (g Grid) WindowSize() image.Point {
	if len(g.Patches) == 0 {
		return image.Point{}
	}
	return g.Patches[0].Window.Size()
}

// Scaled returns a copy of the grid with every size and rectangle
// multiplied by factor. For a model that upscales by factor, the scaled
// Window of a patch is the region of the output that its prediction covers,
// and the scaled KeepInWindow is the region to crop from that prediction.
// The result does not share memory with g.
//
// Scaled returns an error wrapping [ErrInvalid] if factor is below 1 or if
// the scaled image size overflows int. It expects the rectangles to lie
// inside the Width by Height image, as those from [Plan] do.
func (g Grid) Scaled(factor int) (Grid, error) {
	if factor < 1 {
		return Grid{}, invalidf("scale factor %d is invalid: use the model's scale factor, at least 1", factor)
	}
	if g.Width > math.MaxInt/factor || g.Height > math.MaxInt/factor {
		return Grid{}, invalidf("scale factor %d is too large for image size %dx%d: the scaled size overflows int",
			factor, g.Width, g.Height)
	}

	scaled := Grid{
		Width:   g.Width * factor,
		Height:  g.Height * factor,
		Rows:    g.Rows,
		Cols:    g.Cols,
		Patches: make([]Patch, len(g.Patches)),
	}
	for i, p := range g.Patches {
		p.Window = scaleRect(p.Window, factor)
		p.Keep = scaleRect(p.Keep, factor)
		scaled.Patches[i] = p
	}
	return scaled, nil
}

func scaleRect(r image.Rectangle, factor int) image.Rectangle {
	return image.Rectangle{Min: r.Min.Mul(factor), Max: r.Max.Mul(factor)}
}

// Plan cuts a width by height image into windows of patchSize by patchSize
// pixels that overlap by padding pixels. [Spans] cuts each axis, and the
// grid contains every combination of a y window (row) and an x window
// (column). Windows are smaller than patchSize along an axis that is
// shorter than patchSize.
//
// Plan returns an error wrapping [ErrInvalid] if width, height or
// patchSize is below 1, if padding is negative, if 2*padding is not less
// than patchSize, or if the plan needs more than [MaxPatches] patches.
func Plan(width, height, patchSize, padding int) (Grid, error) {
	if err := checkPatch(patchSize, padding); err != nil {
		return Grid{}, err
	}
	if width < 1 || height < 1 {
		return Grid{}, invalidf("image size %dx%d is invalid: width and height must be at least 1 pixel", width, height)
	}

	// Count before allocating. Both counts are at least 1.
	cols := spanCount(width, patchSize, padding)
	rows := spanCount(height, patchSize, padding)
	if rows > MaxPatches/cols {
		return Grid{}, invalidf("patch size %d with padding %d cuts the %dx%d image into %d rows of %d patches, more than the maximum %d patches: use a larger patch size",
			patchSize, padding, width, height, rows, cols, MaxPatches)
	}
	xs := cut(width, patchSize, padding, cols)
	ys := cut(height, patchSize, padding, rows)

	patches := make([]Patch, 0, rows*cols)
	for row, y := range ys {
		for col, x := range xs {
			patches = append(patches, Patch{
				Row:    row,
				Col:    col,
				Index:  len(patches),
				Window: image.Rect(x.Start, y.Start, x.Start+x.Size, y.Start+y.Size),
				Keep: image.Rect(
					x.Start+x.KeepStart, y.Start+y.KeepStart,
					x.Start+x.KeepStart+x.KeepSize, y.Start+y.KeepStart+y.KeepSize),
			})
		}
	}
	return Grid{Width: width, Height: height, Rows: rows, Cols: cols, Patches: patches}, nil
}

// RoundUp returns patch rounded up to the next multiple of divisor, for
// models whose input size must be divisible by a factor. A divisor of 1 or
// less, or a patch below 1, is returned unchanged, so [Plan] still rejects
// an invalid patch size. A patch whose rounded value would overflow int is
// also returned unchanged.
func RoundUp(patch, divisor int) int {
	if divisor <= 1 || patch < 1 {
		return patch
	}
	rem := patch % divisor
	if rem == 0 {
		return patch
	}
	add := divisor - rem
	if patch > math.MaxInt-add {
		return patch
	}
	return patch + add
}
