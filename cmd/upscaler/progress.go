package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/upscaler-go/upscaler"
)

// isTerminal reports whether w is a terminal, where progress bars are drawn
// instead of log lines.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// batchReporter shows the progress of an upscale run on stderr. Its methods
// are called from the goroutine that runs the batch, in the order start,
// patch..., done, for one image after another, then finish once.
type batchReporter interface {
	// start announces image i of n (counted from 1) of w×h pixels.
	start(i, n int, input string, w, h int)
	// patch reports a finished patch of the current image.
	patch(p upscaler.Progress)
	// done reports the current image's end: written to output, or failed
	// with err (nil on success).
	done(output string, outW, outH int, elapsed time.Duration, err error)
	// printf writes a message line (an error about an input) so that it
	// does not break a progress bar.
	printf(format string, args ...any)
	// finish removes any bars and returns once they are drawn for the
	// last time.
	finish()
}

// quietReporter shows nothing but messages.
type quietReporter struct{ w io.Writer }

func (quietReporter) start(int, int, string, int, int)            {}
func (quietReporter) patch(upscaler.Progress)                     {}
func (quietReporter) done(string, int, int, time.Duration, error) {}
func (r quietReporter) printf(format string, args ...any)         { fmt.Fprintf(r.w, format+"\n", args...) }
func (quietReporter) finish()                                     {}

// logReporter writes one line when an image starts and one when it ends, for
// logs and pipes.
type logReporter struct {
	w     io.Writer
	i, n  int
	input string
}

func (r *logReporter) start(i, n int, input string, w, h int) {
	r.i, r.n, r.input = i, n, input
	fmt.Fprintf(r.w, "upscaler: [%d/%d] %s: %dx%d, upscaling\n", i, n, input, w, h)
}

func (r *logReporter) patch(upscaler.Progress) {}

func (r *logReporter) done(output string, outW, outH int, elapsed time.Duration, err error) {
	if err != nil {
		return // the error itself is printed by the caller
	}
	if output == "-" {
		output = "standard output"
	}
	fmt.Fprintf(r.w, "upscaler: [%d/%d] %s: wrote %s, %dx%d, in %.2fs\n", r.i, r.n, r.input, output, outW, outH, elapsed.Seconds())
}

func (r *logReporter) printf(format string, args ...any) { fmt.Fprintf(r.w, format+"\n", args...) }
func (r *logReporter) finish()                           {}

// barReporter draws, on a terminal, a bar for the current image (patches
// done, elapsed time, estimated time left) and, for several inputs, one for
// the batch (images done).
type barReporter struct {
	p     *mpb.Progress
	ended bool
	batch *mpb.Bar // nil for a single input
	image *mpb.Bar // the current image's bar, nil between images
}

// newBarReporter returns a reporter drawing on w for a batch of n images.
// Options are added to mpb's defaults.
func newBarReporter(w io.Writer, n int, options ...mpb.ContainerOption) *barReporter {
	options = append([]mpb.ContainerOption{mpb.WithOutput(w), mpb.WithWidth(72), mpb.WithRefreshRate(150 * time.Millisecond)}, options...)
	r := &barReporter{p: mpb.New(options...)}
	if n > 1 {
		r.batch = r.p.AddBar(int64(n),
			mpb.BarPriority(1<<30), // always the bottom line
			mpb.PrependDecorators(decor.Name("total ", decor.WCSyncSpaceR), decor.CountersNoUnit("%d/%d images", decor.WCSyncSpace)),
			mpb.AppendDecorators(decor.Elapsed(decor.ET_STYLE_GO), decor.Name(" ETA "), decor.AverageETA(decor.ET_STYLE_GO)),
		)
	}
	return r
}

func (r *barReporter) start(i, n int, input string, w, h int) {
	// The first patch sets the total. An image without patches keeps
	// total 0 until done completes the bar.
	r.image = r.p.AddBar(0,
		mpb.BarRemoveOnComplete(),
		mpb.PrependDecorators(decor.Name(input, decor.WCSyncSpaceR), decor.CountersNoUnit("%d/%d patches", decor.WCSyncSpace)),
		mpb.AppendDecorators(decor.Elapsed(decor.ET_STYLE_GO), decor.Name(" ETA "), decor.AverageETA(decor.ET_STYLE_GO)),
	)
}

func (r *barReporter) patch(p upscaler.Progress) {
	if r.image == nil {
		return
	}
	r.image.SetTotal(int64(p.Count), false)
	r.image.SetCurrent(int64(p.Index + 1))
}

func (r *barReporter) done(output string, outW, outH int, elapsed time.Duration, err error) {
	if r.image != nil {
		if err != nil {
			r.image.Abort(true)
		} else {
			r.image.SetTotal(-1, true)
		}
		r.image.Wait()
		r.image = nil
	}
	if r.batch != nil {
		r.batch.Increment()
	}
}

func (r *barReporter) printf(format string, args ...any) {
	fmt.Fprintf(r.p, format+"\n", args...)
}

func (r *barReporter) finish() {
	if r.ended {
		return
	}
	r.ended = true
	if r.image != nil {
		r.image.Abort(true)
	}
	if r.batch != nil && !r.batch.Completed() {
		r.batch.Abort(false)
	}
	r.p.Wait()
}
