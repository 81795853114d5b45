package tile

import (
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// planCases are the layouts that the table tests check field by field. The
// first five reproduce patch layouts of UpscalerJS worked out by hand.
var planCases = []struct {
	name           string
	width, height  int
	patch, padding int
	rows, cols     int
	xs, ys         []Span
}{
	{
		name:  "200x300 patch 128 padding 2",
		width: 200, height: 300, patch: 128, padding: 2,
		rows: 3, cols: 2,
		xs: []Span{{0, 128, 0, 126}, {72, 128, 54, 74}},
		ys: []Span{{0, 128, 0, 126}, {124, 128, 2, 124}, {172, 128, 78, 50}},
	},
	{
		name:  "9x9 patch 5 padding 1",
		width: 9, height: 9, patch: 5, padding: 1,
		rows: 3, cols: 3,
		xs: []Span{{0, 5, 0, 4}, {3, 5, 1, 3}, {4, 5, 3, 2}},
		ys: []Span{{0, 5, 0, 4}, {3, 5, 1, 3}, {4, 5, 3, 2}},
	},
	{
		name:  "6x6 patch 5 padding 2",
		width: 6, height: 6, patch: 5, padding: 2,
		rows: 2, cols: 2,
		xs: []Span{{0, 5, 0, 3}, {1, 5, 2, 3}},
		ys: []Span{{0, 5, 0, 3}, {1, 5, 2, 3}},
	},
	{
		name:  "4x4 patch 3 padding 0",
		width: 4, height: 4, patch: 3, padding: 0,
		rows: 2, cols: 2,
		xs: []Span{{0, 3, 0, 3}, {1, 3, 2, 1}},
		ys: []Span{{0, 3, 0, 3}, {1, 3, 2, 1}},
	},
	{
		name:  "3x7 patch 6 padding 1",
		width: 3, height: 7, patch: 6, padding: 1,
		rows: 2, cols: 1,
		xs: []Span{{0, 3, 0, 3}},
		ys: []Span{{0, 6, 0, 5}, {1, 6, 4, 2}},
	},
	{
		// The last window starts at 3 and keeps [4,9), so only 1 pixel of
		// context precedes its kept region although the padding is 2.
		name:  "9x9 patch 6 padding 2 short context",
		width: 9, height: 9, patch: 6, padding: 2,
		rows: 2, cols: 2,
		xs: []Span{{0, 6, 0, 4}, {3, 6, 1, 5}},
		ys: []Span{{0, 6, 0, 4}, {3, 6, 1, 5}},
	},
	{
		// Without padding the windows can fit exactly, and none is shifted.
		name:  "6x9 patch 3 padding 0 exact fit",
		width: 6, height: 9, patch: 3, padding: 0,
		rows: 3, cols: 2,
		xs: []Span{{0, 3, 0, 3}, {3, 3, 0, 3}},
		ys: []Span{{0, 3, 0, 3}, {3, 3, 0, 3}, {6, 3, 0, 3}},
	},
	{
		name:  "128x128 equal to patch 128 padding 8",
		width: 128, height: 128, patch: 128, padding: 8,
		rows: 1, cols: 1,
		xs: []Span{{0, 128, 0, 128}},
		ys: []Span{{0, 128, 0, 128}},
	},
	{
		name:  "50x20 smaller than patch 64 padding 4",
		width: 50, height: 20, patch: 64, padding: 4,
		rows: 1, cols: 1,
		xs: []Span{{0, 50, 0, 50}},
		ys: []Span{{0, 20, 0, 20}},
	},
	{
		name:  "1x1 patch 1 padding 0",
		width: 1, height: 1, patch: 1, padding: 0,
		rows: 1, cols: 1,
		xs: []Span{{0, 1, 0, 1}},
		ys: []Span{{0, 1, 0, 1}},
	},
}

func TestSpansTable(t *testing.T) {
	for _, tc := range planCases {
		t.Run(tc.name, func(t *testing.T) {
			checkSpans(t, tc.width, tc.patch, tc.padding, tc.xs)
			checkSpans(t, tc.height, tc.patch, tc.padding, tc.ys)
		})
	}
}

// checkSpans compares Spans(size, patch, padding) with want one field at a
// time, so that a failure names the field.
func checkSpans(t *testing.T, size, patch, padding int, want []Span) {
	t.Helper()
	got, err := Spans(size, patch, padding)
	if err != nil {
		t.Fatalf("Spans(%d, %d, %d) returned error %v, want nil", size, patch, padding, err)
	}
	call := fmt.Sprintf("Spans(%d, %d, %d)", size, patch, padding)
	if len(got) != len(want) {
		t.Fatalf("%s = %d windows %v, want %d windows %v", call, len(got), got, len(want), want)
	}
	for i := range want {
		if got[i].Start != want[i].Start {
			t.Errorf("%s[%d].Start = %d, want %d", call, i, got[i].Start, want[i].Start)
		}
		if got[i].Size != want[i].Size {
			t.Errorf("%s[%d].Size = %d, want %d", call, i, got[i].Size, want[i].Size)
		}
		if got[i].KeepStart != want[i].KeepStart {
			t.Errorf("%s[%d].KeepStart = %d, want %d", call, i, got[i].KeepStart, want[i].KeepStart)
		}
		if got[i].KeepSize != want[i].KeepSize {
			t.Errorf("%s[%d].KeepSize = %d, want %d", call, i, got[i].KeepSize, want[i].KeepSize)
		}
	}
}

func TestPlanTable(t *testing.T) {
	for _, tc := range planCases {
		t.Run(tc.name, func(t *testing.T) {
			call := fmt.Sprintf("Plan(%d, %d, %d, %d)", tc.width, tc.height, tc.patch, tc.padding)
			g, err := Plan(tc.width, tc.height, tc.patch, tc.padding)
			if err != nil {
				t.Fatalf("%s returned error %v, want nil", call, err)
			}
			if g.Rows != tc.rows {
				t.Errorf("%s.Rows = %d, want %d", call, g.Rows, tc.rows)
			}
			if g.Cols != tc.cols {
				t.Errorf("%s.Cols = %d, want %d", call, g.Cols, tc.cols)
			}
			if len(g.Patches) != tc.rows*tc.cols {
				t.Fatalf("%s has %d patches, want %d", call, len(g.Patches), tc.rows*tc.cols)
			}
			if g.Width != tc.width || g.Height != tc.height {
				t.Errorf("%s size = %dx%d, want %dx%d", call, g.Width, g.Height, tc.width, tc.height)
			}

			// Each patch is the cross product of its row's y span and its
			// column's x span, in row-major order.
			for i, p := range g.Patches {
				row, col := i/tc.cols, i%tc.cols
				x, y := tc.xs[col], tc.ys[row]
				want := Patch{
					Row:    row,
					Col:    col,
					Index:  i,
					Window: image.Rect(x.Start, y.Start, x.Start+x.Size, y.Start+y.Size),
					Keep: image.Rect(x.Start+x.KeepStart, y.Start+y.KeepStart,
						x.Start+x.KeepStart+x.KeepSize, y.Start+y.KeepStart+y.KeepSize),
				}
				if p != want {
					t.Errorf("%s.Patches[%d] = %+v, want %+v", call, i, p, want)
				}
				wantInWindow := image.Rect(x.KeepStart, y.KeepStart, x.KeepStart+x.KeepSize, y.KeepStart+y.KeepSize)
				if got := p.KeepInWindow(); got != wantInWindow {
					t.Errorf("%s.Patches[%d].KeepInWindow() = %v, want %v", call, i, got, wantInWindow)
				}
			}

			wantWindow := image.Pt(tc.xs[0].Size, tc.ys[0].Size)
			if got := g.WindowSize(); got != wantWindow {
				t.Errorf("%s.WindowSize() = %v, want %v", call, got, wantWindow)
			}
			checkCoverage(t, call, g)
		})
	}
}

// checkCoverage counts, for every pixel of the image, the Keep rectangles
// that contain it, and reports pixels not counted exactly once.
func checkCoverage(t *testing.T, call string, g Grid) {
	t.Helper()
	counts := make([]int, g.Width*g.Height)
	bounds := image.Rect(0, 0, g.Width, g.Height)
	for i, p := range g.Patches {
		if !p.Keep.In(bounds) {
			t.Errorf("%s.Patches[%d].Keep = %v, want inside %v", call, i, p.Keep, bounds)
			continue
		}
		for y := p.Keep.Min.Y; y < p.Keep.Max.Y; y++ {
			for x := p.Keep.Min.X; x < p.Keep.Max.X; x++ {
				counts[y*g.Width+x]++
			}
		}
	}
	for i, n := range counts {
		if n != 1 {
			t.Errorf("%s keeps pixel (%d,%d) %d times, want 1", call, i%g.Width, i/g.Width, n)
			return
		}
	}
}

func TestPlanErrors(t *testing.T) {
	tests := []struct {
		name                          string
		width, height, patch, padding int
		mention                       []string // values the message must name
	}{
		{"padding too large", 200, 300, 128, 64, []string{"padding 64", "patch size 128"}},
		{"padding half patch odd", 200, 300, 5, 3, []string{"padding 3", "patch size 5"}},
		{"negative padding", 200, 300, 128, -1, []string{"padding -1"}},
		{"zero patch", 200, 300, 0, 0, []string{"patch size 0"}},
		{"negative patch", 200, 300, -8, 0, []string{"patch size -8"}},
		{"zero width", 0, 300, 128, 2, []string{"0x300"}},
		{"negative height", 200, -3, 128, 2, []string{"200x-3"}},
		{"too many patches", 1 << 20, 1 << 20, 3, 1, []string{"patch size 3", "1048576x1048576"}},
		{"max int patch padding", 10, 10, math.MaxInt, math.MaxInt/2 + 1, []string{"padding " + strconv.Itoa(math.MaxInt/2+1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			call := fmt.Sprintf("Plan(%d, %d, %d, %d)", tc.width, tc.height, tc.patch, tc.padding)
			g, err := Plan(tc.width, tc.height, tc.patch, tc.padding)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%s error = %v, want an error matching ErrInvalid", call, err)
			}
			if g.Patches != nil || g.Rows != 0 || g.Cols != 0 {
				t.Errorf("%s = %+v with the error, want the zero Grid", call, g)
			}
			for _, m := range tc.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("%s error %q does not mention %q", call, err, m)
				}
			}
		})
	}
}

func TestSpansErrors(t *testing.T) {
	tests := []struct {
		name                 string
		size, patch, padding int
	}{
		{"zero size", 0, 8, 1},
		{"negative size", -1, 8, 1},
		{"zero patch", 8, 0, 0},
		{"negative padding", 8, 4, -1},
		{"twice padding equals patch", 8, 4, 2},
		{"too many windows", math.MaxInt, 3, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spans, err := Spans(tc.size, tc.patch, tc.padding)
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Spans(%d, %d, %d) error = %v, want an error matching ErrInvalid", tc.size, tc.patch, tc.padding, err)
			}
			if spans != nil {
				t.Errorf("Spans(%d, %d, %d) = %v with the error, want nil", tc.size, tc.patch, tc.padding, spans)
			}
		})
	}
}

func TestPadTooLargeMessage(t *testing.T) {
	_, err := Plan(200, 300, 128, 64)
	want := "tile: padding 64 is too large for patch size 128: twice the padding must be less than the patch size"
	if err == nil || err.Error() != want {
		t.Errorf("Plan(200, 300, 128, 64) error = %v, want %q", err, want)
	}
}

// TestPlanHugeImage checks that sizes near math.MaxInt cut without
// overflow when the windows are large.
func TestPlanHugeImage(t *testing.T) {
	size := math.MaxInt
	patch := math.MaxInt - 1
	spans, err := Spans(size, patch, 0)
	if err != nil {
		t.Fatalf("Spans(MaxInt, MaxInt-1, 0) returned error %v, want nil", err)
	}
	want := []Span{{0, patch, 0, patch}, {1, patch, patch - 1, 1}}
	if !slices.Equal(spans, want) {
		t.Errorf("Spans(MaxInt, MaxInt-1, 0) = %v, want %v", spans, want)
	}

	g, err := Plan(size, 1, patch, 0)
	if err != nil {
		t.Fatalf("Plan(MaxInt, 1, MaxInt-1, 0) returned error %v, want nil", err)
	}
	wantKeep := image.Rect(patch, 0, size, 1)
	if got := g.Patches[1].Keep; got != wantKeep {
		t.Errorf("Plan(MaxInt, 1, MaxInt-1, 0).Patches[1].Keep = %v, want %v", got, wantKeep)
	}
}

func TestGridScaled(t *testing.T) {
	const factor = 4
	g, err := Plan(200, 300, 128, 2)
	if err != nil {
		t.Fatalf("Plan(200, 300, 128, 2) returned error %v, want nil", err)
	}
	before := slices.Clone(g.Patches)
	s, err := g.Scaled(factor)
	if err != nil {
		t.Fatalf("Scaled(%d) returned error %v, want nil", factor, err)
	}

	if s.Width != 800 || s.Height != 1200 {
		t.Errorf("Scaled(%d) size = %dx%d, want 800x1200", factor, s.Width, s.Height)
	}
	if s.Rows != g.Rows || s.Cols != g.Cols {
		t.Errorf("Scaled(%d) grid = %d rows by %d cols, want %d by %d", factor, s.Rows, s.Cols, g.Rows, g.Cols)
	}
	if got, want := s.WindowSize(), image.Pt(512, 512); got != want {
		t.Errorf("Scaled(%d).WindowSize() = %v, want %v", factor, got, want)
	}
	wantWindow := image.Rect(288, 0, 800, 512)
	if got := s.Patches[1].Window; got != wantWindow {
		t.Errorf("Scaled(%d).Patches[1].Window = %v, want %v", factor, got, wantWindow)
	}
	wantInWindow := image.Rect(216, 0, 512, 504)
	if got := s.Patches[1].KeepInWindow(); got != wantInWindow {
		t.Errorf("Scaled(%d).Patches[1].KeepInWindow() = %v, want %v", factor, got, wantInWindow)
	}
	for i, p := range s.Patches {
		orig := g.Patches[i]
		if p.Row != orig.Row || p.Col != orig.Col || p.Index != orig.Index {
			t.Errorf("Scaled(%d).Patches[%d] position = (%d,%d,#%d), want (%d,%d,#%d)",
				factor, i, p.Row, p.Col, p.Index, orig.Row, orig.Col, orig.Index)
		}
		want := orig.KeepInWindow()
		want = image.Rectangle{Min: want.Min.Mul(factor), Max: want.Max.Mul(factor)}
		if got := p.KeepInWindow(); got != want {
			t.Errorf("Scaled(%d).Patches[%d].KeepInWindow() = %v, want %v", factor, i, got, want)
		}
	}
	checkCoverage(t, "Plan(200, 300, 128, 2).Scaled(4)", s)

	// The original grid must be unchanged and unshared.
	if !slices.Equal(g.Patches, before) {
		t.Errorf("Scaled(%d) modified the original patches: got %v, want %v", factor, g.Patches, before)
	}
	if &s.Patches[0] == &g.Patches[0] {
		t.Errorf("Scaled(%d) returned patches that share memory with the original", factor)
	}
}

func TestGridScaledErrors(t *testing.T) {
	small, err := Plan(10, 10, 4, 1)
	if err != nil {
		t.Fatalf("Plan(10, 10, 4, 1) returned error %v, want nil", err)
	}
	wide, err := Plan(math.MaxInt/2+1, 1, math.MaxInt/2+1, 0)
	if err != nil {
		t.Fatalf("Plan(MaxInt/2+1, 1, MaxInt/2+1, 0) returned error %v, want nil", err)
	}
	tests := []struct {
		name   string
		grid   Grid
		factor int
	}{
		{"zero factor", small, 0},
		{"negative factor", small, -2},
		{"overflow", wide, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := tc.grid.Scaled(tc.factor)
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Scaled(%d) error = %v, want an error matching ErrInvalid", tc.factor, err)
			}
			if s.Patches != nil {
				t.Errorf("Scaled(%d) = %+v with the error, want the zero Grid", tc.factor, s)
			}
		})
	}
}

func TestWindowSizeEmpty(t *testing.T) {
	if got := (Grid{}).WindowSize(); got != (image.Point{}) {
		t.Errorf("Grid{}.WindowSize() = %v, want %v", got, image.Point{})
	}
}

func TestRoundUp(t *testing.T) {
	tests := []struct {
		patch, divisor, want int
	}{
		{128, 4, 128},
		{130, 4, 132},
		{129, 8, 136},
		{1, 8, 8},
		{127, 1, 127},
		{127, 0, 127},
		{127, -3, 127},
		{0, 4, 0},
		{-5, 4, -5},
		{math.MaxInt, 2, math.MaxInt},
		{math.MaxInt - 1, 2, math.MaxInt - 1},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d by %d", tc.patch, tc.divisor), func(t *testing.T) {
			if got := RoundUp(tc.patch, tc.divisor); got != tc.want {
				t.Errorf("RoundUp(%d, %d) = %d, want %d", tc.patch, tc.divisor, got, tc.want)
			}
		})
	}
}

// source identifies the window that supplies one output pixel of an axis,
// by the window's start and the pixel's offset inside the window.
type source struct{ start, offset int }

// upscalerJSSources restates, for one axis, how getPatchesFromImage and
// processPixels in UpscalerJS build the result. A cursor walks the axis,
// and every step yields a window and the slice of its prediction to keep.
// The slices are concatenated in order, and the concatenation is trimmed to
// the axis size. It returns the source of each pixel and the number of
// windows that UpscalerJS runs.
func upscalerJSSources(size, patch, padding int) ([]source, int) {
	patch = min(patch, size)
	var sources []source
	windows := 0
	for idx := 0; idx < size; windows++ {
		before, after := padding, padding
		if idx == 0 || patch == size {
			before = 0
		}
		if patch == size {
			after = 0
		}

		// A window that would run past the end is moved back to end at the
		// end and keeps everything from the cursor on. The cursor still
		// advances by patch-before-after.
		start, keepStart, keepSize := idx-before, before, patch-before-after
		if idx+patch > size {
			start = size - patch
			keepStart = patch - (size - idx)
			keepSize = size - idx
			after = 0
		}
		for k := range keepSize {
			sources = append(sources, source{start, keepStart + k})
		}
		idx += patch - before - after
	}
	return sources[:size], windows
}

// spanSources returns the source of each pixel of an axis cut by spans.
func spanSources(spans []Span) []source {
	var sources []source
	for _, s := range spans {
		for k := range s.KeepSize {
			sources = append(sources, source{s.Start, s.KeepStart + k})
		}
	}
	return sources
}

// firstDifference returns the first index at which a and b differ, or -1
// if they are equal.
func firstDifference(a, b []source) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

func describe(sources []source, i int) string {
	if i >= len(sources) {
		return fmt.Sprintf("nowhere (only %d pixels)", len(sources))
	}
	return fmt.Sprintf("the window at %d, offset %d", sources[i].start, sources[i].offset)
}

// TestSpansProperties cuts many random axes and checks the invariants from
// the package documentation, and that every pixel comes from the same
// window and offset as in UpscalerJS.
func TestSpansProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	iterations := 20000
	if testing.Short() {
		iterations = 2000
	}
	shortContext, redundant := 0, 0
	for range iterations {
		if t.Failed() && !testing.Verbose() {
			break // the first failing cases are enough to diagnose
		}
		size := 1 + rng.IntN(700)
		patch := 1 + rng.IntN(300)
		padding := rng.IntN((patch-1)/2 + 1)
		call := fmt.Sprintf("Spans(%d, %d, %d)", size, patch, padding)

		spans, err := Spans(size, patch, padding)
		if err != nil {
			t.Fatalf("%s returned error %v, want nil", call, err)
		}
		if n := spanCount(size, patch, padding); len(spans) != n {
			t.Errorf("%s has %d windows, spanCount = %d", call, len(spans), n)
		}
		if !checkAxis(t, call, size, patch, padding, spans) {
			continue
		}
		if last := spans[len(spans)-1]; len(spans) > 1 && last.KeepStart < padding {
			shortContext++
		}

		got := spanSources(spans)
		want, windows := upscalerJSSources(size, patch, padding)
		if i := firstDifference(got, want); i >= 0 {
			t.Errorf("%s takes pixel %d from %s, UpscalerJS from %s", call, i, describe(got, i), describe(want, i))
		}
		if windows < len(spans) {
			t.Errorf("%s has %d windows, more than the %d of UpscalerJS", call, len(spans), windows)
		}
		if windows > len(spans) {
			redundant++
		}

		// UpscalerJS runs extra windows exactly when its last window has
		// less context than the padding.
		last := spans[len(spans)-1]
		if short := len(spans) > 1 && last.KeepStart < padding; short != (windows > len(spans)) {
			t.Errorf("%s last keep start %d with padding %d, but UpscalerJS runs %d windows and Spans %d",
				call, last.KeepStart, padding, windows, len(spans))
		}
	}

	// Both special cases must have been exercised for the run to mean
	// anything.
	if t.Failed() {
		return
	}
	if shortContext == 0 {
		t.Errorf("no random case had a last window with less context than the padding")
	}
	if redundant == 0 {
		t.Errorf("no random case had fewer windows than UpscalerJS")
	}
	t.Logf("%d cases, %d with short context before the last window, %d with fewer windows than UpscalerJS",
		iterations, shortContext, redundant)
}

// checkAxis checks the documented invariants of the windows of one axis and
// reports whether they all hold.
func checkAxis(t *testing.T, call string, size, patch, padding int, spans []Span) bool {
	t.Helper()
	ok := true
	fail := func(format string, args ...any) {
		t.Errorf(call+": "+format, args...)
		ok = false
	}
	if len(spans) == 0 {
		fail("no windows, want at least 1")
		return false
	}

	next := 0 // start of the next kept region in axis coordinates
	for i, s := range spans {
		isLast := i == len(spans)-1
		if s.Size != min(patch, size) {
			fail("window %d size = %d, want min(patch, size) = %d", i, s.Size, min(patch, size))
		}
		if s.Start < 0 || s.Start+s.Size > size {
			fail("window %d = [%d,%d), want inside [0,%d)", i, s.Start, s.Start+s.Size, size)
		}
		if s.KeepSize < 1 || s.KeepStart < 0 || s.KeepStart+s.KeepSize > s.Size {
			fail("window %d keeps [%d,%d) of its %d pixels, want a non-empty region inside the window",
				i, s.KeepStart, s.KeepStart+s.KeepSize, s.Size)
		}
		if keep := s.Start + s.KeepStart; keep != next {
			fail("window %d keeps from %d, want %d where the previous kept region ends", i, keep, next)
		}
		next = s.Start + s.KeepStart + s.KeepSize

		// Context: the first window has none before its kept region,
		// interior windows have exactly padding pixels on both sides, and
		// every window except the last has padding pixels after it. The
		// last window has at least 1 pixel before its kept region, possibly
		// fewer than padding, unless the padding is 0 and it fits exactly.
		switch {
		case i == 0 && s.KeepStart != 0:
			fail("window 0 keep start = %d, want 0", s.KeepStart)
		case i > 0 && !isLast && s.KeepStart != padding:
			fail("interior window %d keep start = %d, want padding %d", i, s.KeepStart, padding)
		case i > 0 && isLast && s.KeepStart < min(1, padding):
			fail("last window keep start = %d, want at least 1 with padding %d", s.KeepStart, padding)
		}
		if i > 0 && !isLast && s.KeepSize != patch-2*padding {
			fail("interior window %d keep size = %d, want patch-2*padding = %d", i, s.KeepSize, patch-2*padding)
		}
		if after := s.Size - s.KeepStart - s.KeepSize; !isLast && after != padding {
			fail("window %d has %d pixels after its kept region, want padding %d", i, after, padding)
		}
		if isLast && s.Start+s.Size != size {
			fail("last window ends at %d, want the axis end %d", s.Start+s.Size, size)
		}
	}
	if next != size {
		fail("kept regions end at %d, want %d", next, size)
	}
	return ok
}

// TestPlanProperties checks coverage, order and window sizes of random 2-D
// plans pixel by pixel.
func TestPlanProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	iterations := 300
	if testing.Short() {
		iterations = 30
	}
	for range iterations {
		width, height := 1+rng.IntN(250), 1+rng.IntN(250)
		patch := 1 + rng.IntN(120)
		padding := rng.IntN((patch-1)/2 + 1)
		call := fmt.Sprintf("Plan(%d, %d, %d, %d)", width, height, patch, padding)

		g, err := Plan(width, height, patch, padding)
		if err != nil {
			t.Fatalf("%s returned error %v, want nil", call, err)
		}
		if len(g.Patches) != g.Rows*g.Cols {
			t.Fatalf("%s has %d patches, want Rows*Cols = %d", call, len(g.Patches), g.Rows*g.Cols)
		}
		bounds := image.Rect(0, 0, width, height)
		wantSize := image.Pt(min(patch, width), min(patch, height))
		for i, p := range g.Patches {
			if p.Index != i || p.Row != i/g.Cols || p.Col != i%g.Cols {
				t.Errorf("%s.Patches[%d] at row %d col %d index %d, want row %d col %d index %d",
					call, i, p.Row, p.Col, p.Index, i/g.Cols, i%g.Cols, i)
			}
			if p.Window.Size() != wantSize {
				t.Errorf("%s.Patches[%d].Window size = %v, want %v", call, i, p.Window.Size(), wantSize)
			}
			if !p.Window.In(bounds) {
				t.Errorf("%s.Patches[%d].Window = %v, want inside %v", call, i, p.Window, bounds)
			}
			if !p.Keep.In(p.Window) {
				t.Errorf("%s.Patches[%d].Keep = %v, want inside Window %v", call, i, p.Keep, p.Window)
			}
		}
		checkCoverage(t, call, g)
	}
}

// FuzzPlan checks that no arguments make Plan panic, and that every plan
// it returns covers the image exactly once.
func FuzzPlan(f *testing.F) {
	for _, tc := range planCases {
		f.Add(tc.width, tc.height, tc.patch, tc.padding)
	}
	f.Add(0, 5, 3, 1)
	f.Add(5, 5, 3, -1)
	f.Add(math.MaxInt, math.MaxInt, 3, 1)
	f.Fuzz(func(t *testing.T, width, height, patch, padding int) {
		// Large images skip Plan, whose allocation and pixel-by-pixel
		// coverage check would be slow, and only run the counting step.
		if width > 1<<10 || height > 1<<10 {
			if checkPatch(patch, padding) == nil && width > 0 && height > 0 {
				if n := spanCount(width, patch, padding); n < 1 || n > width {
					t.Fatalf("spanCount(%d, %d, %d) = %d, want between 1 and %d", width, patch, padding, n, width)
				}
			}
			return
		}
		g, err := Plan(width, height, patch, padding)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Plan(%d, %d, %d, %d) error = %v, want an error matching ErrInvalid", width, height, patch, padding, err)
			}
			return
		}
		checkCoverage(t, fmt.Sprintf("Plan(%d, %d, %d, %d)", width, height, patch, padding), g)
	})
}
