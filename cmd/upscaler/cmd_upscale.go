package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/internal/autopatch"
	"github.com/upscaler-go/upscaler/internal/imageio"
	"github.com/upscaler-go/upscaler/models"
)

// upscaleOptions are the flags of "upscaler upscale".
type upscaleOptions struct {
	modelOptions
	output    string
	patchSize string
	padding   string
	// autoPatch is set by --patch-size auto: each image is cut into
	// patches only when it is large. paddingSet records an explicit
	// --padding.
	autoPatch  bool
	paddingSet bool
	format     string
	quality    int
	alpha      string
	overwrite  bool
	json       bool
	quiet      bool
	threads    int
	maxPixels  int64
}

func newUpscaleCommand(s *streams) *cobra.Command {
	var opts upscaleOptions
	cmd := &cobra.Command{
		Use:   "upscale [flags] INPUT...",
		Short: "Enlarge images",
		Long: `Enlarge each INPUT: an image file (PNG, JPEG, WebP, GIF, BMP or TIFF), a folder
(every image directly inside it), or - for standard input.

Without -o, each output is written beside its input as NAME@<scale>x.EXT, and
the image read from standard input goes to standard output. Outputs are
written to a temporary file and renamed into place, so a failed or interrupted
run leaves no partial file. An input that cannot be read or upscaled is
reported and skipped; the others are still written, and the exit status is 1.
A folder input takes every image in it, earlier NAME@2x outputs included, so
give a second run over the same folder another -o.

On a terminal a progress bar is drawn per image (patches done, elapsed time,
time left) and for the batch; otherwise one line is logged per image start
and end on standard error. --quiet and --json turn both off.`,
		Example: `  upscaler upscale photo.jpg
  upscaler upscale -m esrgan-thick:4x --patch-size 128 --padding auto -o big.png photo.jpg
  upscaler upscale --format webp -o out/ a.png b.png shots/
  upscaler upscale -m ./my-model/model.json --scale 4 --input-range 0,1 --output-range 0,1 in.png`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("missing INPUT: give one or more image files or folders, or - for standard input")
			}
			return nil
		},
	}
	cmd.RunE = runE(func(ctx context.Context, args []string) error {
		opts.paddingSet = cmd.Flags().Changed("padding")
		return runUpscale(ctx, &opts, args, s)
	})
	f := cmd.Flags()
	f.SortFlags = false
	f.StringVarP(&opts.output, "output", "o", "", "output file for one input, folder for several (created if missing), or - for standard output\n(default: NAME@<scale>x.EXT beside each input; standard output for standard input)")
	opts.modelOptions.addFlags(f)
	f.StringVar(&opts.patchSize, "patch-size", "auto", "cut the input into square patches of this many pixels per side, 0 for one pass over the whole image,\nor auto: one pass up to 512×512 pixels, else patches of 256 with --padding auto unless --padding is given;\npatches bound memory (one pass takes about 1.5 KB per input pixel) and show progress")
	f.StringVar(&opts.padding, "padding", "0", "context in input pixels around each patch, less than half the patch size, or \"auto\"\nto take it from the model's receptive field")
	f.StringVar(&opts.format, "format", "", "output format: png, jpeg or webp (default: from the output's extension, else png)")
	f.IntVar(&opts.quality, "quality", 0, "quality of lossy formats, 1 to 100; 0 means 90; for WebP, 100 means lossless")
	f.StringVar(&opts.alpha, "alpha", "bicubic", "how transparency is enlarged: bicubic (fast) or model (sharper, a second model pass)")
	f.BoolVar(&opts.overwrite, "overwrite", false, "replace existing output files")
	f.BoolVar(&opts.json, "json", false, "print one JSON object per input on standard output (no progress)")
	f.BoolVarP(&opts.quiet, "quiet", "q", false, "print nothing but errors")
	f.IntVar(&opts.threads, "threads", 0, "goroutines per image (default: the number of CPUs)")
	f.Int64Var(&opts.maxPixels, "max-pixels", imageio.DefaultLimits.MaxPixels, "largest input accepted, in pixels (width × height); checked from the file header before decoding")
	return cmd
}

// job is one input of a batch and where its output goes.
type job struct {
	input  string // path, or "-" for standard input
	output string // path, or "-" for standard output
	format upscaler.Format
	err    error // set when the input was already found bad while planning
}

// name returns the input as messages show it.
func (j *job) name() string {
	if j.input == "-" {
		return "standard input"
	}
	return j.input
}

// record is the --json line written for each input.
type record struct {
	Input     string  `json:"input"`
	Output    string  `json:"output,omitempty"`
	Width     int     `json:"width,omitempty"`
	Height    int     `json:"height,omitempty"`
	OutWidth  int     `json:"outWidth,omitempty"`
	OutHeight int     `json:"outHeight,omitempty"`
	Model     string  `json:"model"`
	Scale     int     `json:"scale"`
	Seconds   float64 `json:"seconds"`
	Error     string  `json:"error,omitempty"`
}

func runUpscale(ctx context.Context, opts *upscaleOptions, args []string, s *streams) error {
	// Check every flag before any work, so bad usage costs nothing.
	upOpts, err := opts.upscaleOptions()
	if err != nil {
		return err
	}
	def, err := opts.definition()
	if err != nil {
		return err
	}
	jobs, err := opts.plan(args, def.Scale)
	if err != nil {
		return err
	}

	// Progress goes to stderr as bars or lines. With --quiet and --json
	// only the messages about failed inputs remain.
	var rep batchReporter
	switch {
	case opts.quiet || opts.json:
		rep = quietReporter{s.err}
	case isTerminal(s.err):
		rep = newBarReporter(s.err, len(jobs))
	default:
		rep = &logReporter{w: s.err}
	}
	defer rep.finish()

	// Load the model once for the whole batch.
	var pullLog io.Writer
	if !opts.quiet && !opts.json {
		pullLog = s.err
	}
	if err := ensureCached(ctx, &def, &opts.modelOptions, pullLog); err != nil {
		return err
	}
	cfg := upscaler.Config{Model: &def, Threads: opts.threads}
	if !opts.quiet && !opts.json {
		cfg.Logger = slog.New(slog.NewTextHandler(&reporterWriter{rep: rep, seen: map[string]bool{}}, &slog.HandlerOptions{
			Level: slog.LevelWarn,
			ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
				if len(groups) == 0 && a.Key == slog.TimeKey {
					return slog.Attr{} // a message line, not a log record
				}
				return a
			},
		}))
	}
	u, err := upscaler.New(cfg)
	if err != nil {
		if errors.Is(err, models.ErrNotCached) {
			return fmt.Errorf("%w, or add --pull", err)
		}
		return fmt.Errorf("load model %s: %w", def.String(), err)
	}
	defer u.Close()

	// Upscale each input. A failure is reported and the batch goes on,
	// until the context is cancelled.
	start := time.Now()
	var failed []string
	for i := range jobs {
		j := &jobs[i]
		rec, err := runJob(ctx, u, j, opts, upOpts, s, rep, i+1, len(jobs))
		interrupted := ctx.Err() != nil
		if err != nil {
			failed = append(failed, j.name())
			rec.Error = err.Error()
			if !interrupted {
				rep.printf("upscaler: %s: %v", j.name(), err)
			}
		}
		if opts.json {
			rec.Model, rec.Scale = def.String(), def.Scale
			line, _ := json.Marshal(rec)
			fmt.Fprintf(s.out, "%s\n", line)
		}
		switch {
		case interrupted && err != nil:
			return fmt.Errorf("interrupted while upscaling %s, so no output was written for it", j.name())
		case interrupted && i+1 < len(jobs):
			return fmt.Errorf("interrupted after writing %s: %d more inputs were not upscaled", rec.Output, len(jobs)-i-1)
		}
	}
	rep.finish()

	if !opts.quiet && !opts.json {
		fmt.Fprintf(s.err, "upscaler: %d of %d images written in %.1fs, %d failed\n",
			len(jobs)-len(failed), len(jobs), time.Since(start).Seconds(), len(failed))
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d inputs failed: %s", len(failed), len(jobs), strings.Join(failed, ", "))
	}
	return nil
}

// runJob upscales one input and writes its output. The record it returns
// is filled as far as the job got.
func runJob(ctx context.Context, u *upscaler.Upscaler, j *job, opts *upscaleOptions, upOpts upscaler.Options,
	s *streams, rep batchReporter, i, n int) (rec record, err error) {
	rec.Input = j.input
	if j.err != nil {
		return rec, j.err
	}
	started := time.Now()
	defer func() { rec.Seconds = time.Since(started).Seconds() }()

	// Fail before the costly part when the output is already there.
	if j.output != "-" && !opts.overwrite {
		if _, err := os.Lstat(j.output); err == nil {
			return rec, fmt.Errorf("output %s already exists: add --overwrite to replace it, or choose another -o", j.output)
		}
	}

	// Decode.
	var img image.Image
	if j.input == "-" {
		var data []byte
		if data, err = io.ReadAll(s.in); err != nil {
			return rec, fmt.Errorf("read standard input: %w", err)
		}
		img, _, err = imageio.DecodeBytes(data, imageio.Limits{MaxPixels: opts.maxPixels})
	} else {
		img, _, err = imageio.DecodeFile(j.input, imageio.Limits{MaxPixels: opts.maxPixels})
	}
	var limit *imageio.LimitError
	if errors.As(err, &limit) && limit.Limit == "MaxPixels" {
		return rec, fmt.Errorf("%v: %s; raise the limit with --max-pixels", imageio.ErrTooLarge, limit.Detail)
	}
	if err != nil {
		return rec, err
	}
	b := img.Bounds()
	rec.Width, rec.Height = b.Dx(), b.Dy()
	if !opts.quiet && !opts.json {
		if ext, err := upscaler.FormatFromPath(j.output); err == nil && ext != j.format {
			rep.printf("upscaler: %s: writing %s, as --format asks, to %s", j.name(), j.format, j.output)
		}
		if j.format == upscaler.JPEG && imageio.HasAlpha(img) {
			rep.printf("upscaler: %s: JPEG has no transparency, so transparent pixels are written opaque; write PNG or WebP to keep it", j.name())
		}
	}

	// Upscale.
	if opts.autoPatch {
		autopatch.Apply(&upOpts, rec.Width, rec.Height, opts.paddingSet)
	}
	rep.start(i, n, j.name(), rec.Width, rec.Height)
	if upOpts.PatchSize > 0 || u.Definition().InputSize > 0 {
		// Without patches there is nothing to report until the end.
		upOpts.Progress = rep.patch
	}
	// The image is encoded while the model runs, so a large output is
	// never held whole. Standard output gets it only once it is complete.
	if j.output == "-" {
		var buf bytes.Buffer
		if err = u.UpscaleTo(ctx, &buf, img, j.format, opts.quality, &upOpts); err == nil {
			_, err = s.out.Write(buf.Bytes())
		}
	} else {
		err = u.UpscaleToFile(ctx, img, j.output, &upOpts,
			&upscaler.WriteOptions{Format: j.format, Quality: opts.quality, Overwrite: opts.overwrite})
	}
	if err != nil {
		rep.done("", 0, 0, time.Since(started), err)
		return rec, err
	}
	scale := u.Definition().Scale
	rec.Output, rec.OutWidth, rec.OutHeight = j.output, rec.Width*scale, rec.Height*scale
	rep.done(j.output, rec.OutWidth, rec.OutHeight, time.Since(started), nil)
	return rec, nil
}

// upscaleOptions checks the flags that tune each Upscale call and returns
// them as upscaler.Options.
func (o *upscaleOptions) upscaleOptions() (upscaler.Options, error) {
	var u upscaler.Options
	switch n, err := strconv.Atoi(strings.TrimSpace(o.patchSize)); {
	case strings.TrimSpace(o.patchSize) == "auto":
		o.autoPatch = true
	case err != nil || n < 0:
		return u, usagef("invalid --patch-size %s: use a number of pixels, 0 for one pass over the whole image, or auto", o.patchSize)
	default:
		u.PatchSize = n
	}
	switch p := strings.TrimSpace(o.padding); {
	case p == "auto":
		u.AutoPadding = true
	default:
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return u, usagef("invalid --padding %q: use a number of pixels or auto", o.padding)
		}
		u.Padding = n
	}
	if (u.Padding > 0 || u.AutoPadding) && u.PatchSize == 0 && !o.autoPatch {
		return u, usagef("--padding %s needs patches: padding surrounds patches, and --patch-size 0 asks for none", o.padding)
	}
	if patch := u.PatchSize; patch > 0 || o.autoPatch {
		if o.autoPatch {
			patch = autopatch.Size
		}
		if 2*u.Padding >= patch {
			return u, usagef("invalid --padding %d for --patch-size %s: the padding must be less than half the patch size (%d)", u.Padding, o.patchSize, patch)
		}
	}
	switch o.alpha {
	case "bicubic":
		u.Alpha = upscaler.AlphaBicubic
	case "model":
		u.Alpha = upscaler.AlphaModel
	default:
		return u, usagef("invalid --alpha %q: use bicubic or model", o.alpha)
	}
	if o.quality < 0 || o.quality > 100 {
		return u, usagef("invalid --quality %d: use 1 to 100", o.quality)
	}
	if o.threads < 0 {
		return u, usagef("invalid --threads %d: use a positive number, or 0 for one per CPU", o.threads)
	}
	if o.maxPixels <= 0 {
		return u, usagef("invalid --max-pixels %d: use a positive number of pixels", o.maxPixels)
	}
	u.MaxPixels = o.maxPixels
	return u, nil
}

// formatFlag returns the --format value as a Format, or "" when unset.
func (o *upscaleOptions) formatFlag() (upscaler.Format, error) {
	switch strings.ToLower(o.format) {
	case "":
		return "", nil
	case "png":
		return upscaler.PNG, nil
	case "jpeg", "jpg":
		return upscaler.JPEG, nil
	case "webp":
		return upscaler.WebP, nil
	}
	return "", usagef("invalid --format %q: use png, jpeg or webp", o.format)
}

// imageExts are the extensions of the files taken from an input folder.
var imageExts = map[string]bool{
	".png": true, ".jpg": true, ".jpeg": true, ".webp": true,
	".gif": true, ".bmp": true, ".tif": true, ".tiff": true,
}

// plan expands the inputs and chooses each output. An input that does not
// exist becomes a job carrying its error, so the batch reports it and goes
// on. Inconsistent flags are usage errors.
func (o *upscaleOptions) plan(args []string, scale int) ([]job, error) {
	format, err := o.formatFlag()
	if err != nil {
		return nil, err
	}

	// Expand folders into the images directly inside them.
	var jobs []job
	folderInput, stdinSeen := false, false
	for _, a := range args {
		if a == "-" {
			if stdinSeen {
				return nil, usagef("- (standard input) is given twice")
			}
			stdinSeen = true
			jobs = append(jobs, job{input: a})
			continue
		}
		st, err := os.Stat(a)
		switch {
		case err != nil:
			jobs = append(jobs, job{input: a, err: fmt.Errorf("cannot read input: %w", errors.Unwrap(err))})
		case st.IsDir():
			folderInput = true
			found, err := listImages(a)
			if err != nil {
				jobs = append(jobs, job{input: a, err: err})
			}
			for _, p := range found {
				jobs = append(jobs, job{input: p})
			}
		default:
			jobs = append(jobs, job{input: a})
		}
	}

	// Choose the outputs: one file, a folder, standard output, or beside
	// each input.
	toFolder := o.output != "" && o.output != "-" &&
		(len(args) > 1 || folderInput || strings.HasSuffix(o.output, "/") || isDir(o.output))
	if o.output == "-" && len(jobs) > 1 {
		return nil, usagef("-o - writes one image to standard output, but %d inputs are given: use -o FOLDER", len(jobs))
	}
	if toFolder {
		if err := os.MkdirAll(o.output, 0o777); err != nil {
			return nil, fmt.Errorf("create output folder: %w", err)
		}
	}
	seen := map[string]string{}
	for i := range jobs {
		j := &jobs[i]
		switch {
		case o.output == "-" || (o.output == "" && j.input == "-"):
			j.output = "-"
		case toFolder:
			j.output = filepath.Join(o.output, outputName(j.input, scale, format))
		case o.output != "":
			j.output = o.output
		default:
			j.output = filepath.Join(filepath.Dir(j.input), outputName(j.input, scale, format))
		}
		j.format = format
		if j.format == "" {
			if j.format, err = formatOfPath(j.output); err != nil {
				return nil, err
			}
		}
		if j.output == "-" && o.json {
			return nil, usagef("--json prints to standard output, so the image cannot go there: give -o FILE")
		}
		if j.err == nil && j.output != "-" {
			if prev, ok := seen[j.output]; ok {
				return nil, usagef("inputs %s and %s would both be written to %s: use --format or separate runs", prev, j.input, j.output)
			}
			seen[j.output] = j.input
		}
	}
	return jobs, nil
}

// listImages returns the image files directly inside dir, by name.
func listImages(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read input folder: %w", errors.Unwrap(err))
	}
	var paths []string
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") && imageExts[strings.ToLower(filepath.Ext(e.Name()))] {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("folder has no PNG, JPEG, WebP, GIF, BMP or TIFF files")
	}
	return paths, nil
}

// outputName returns NAME@<scale>x.EXT for an input: the extension of
// format, else the input's own if it can be written, else .png.
func outputName(input string, scale int, format upscaler.Format) string {
	base := filepath.Base(input)
	if input == "-" {
		base = "stdin"
	}
	ext := filepath.Ext(base)
	name := strings.TrimSuffix(base, ext)
	switch {
	case format == upscaler.JPEG:
		ext = ".jpg"
	case format != "":
		ext = "." + string(format)
	default:
		if _, err := upscaler.FormatFromPath(base); err != nil {
			ext = ".png"
		}
	}
	return fmt.Sprintf("%s@%dx%s", name, scale, ext)
}

// formatOfPath returns the format an output's extension selects. Standard
// output and a name without extension get PNG.
func formatOfPath(path string) (upscaler.Format, error) {
	if path == "-" || filepath.Ext(path) == "" {
		return upscaler.PNG, nil
	}
	f, err := upscaler.FormatFromPath(path)
	if err != nil {
		return "", usagef("output %s: the extension %s is not an output format: use .png, .jpg or .webp, or set --format", path, filepath.Ext(path))
	}
	return f, nil
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// reporterWriter passes the library's log lines to the reporter, so they
// do not break a progress bar. A warning the library repeats for every
// image of a batch is shown once.
type reporterWriter struct {
	rep  batchReporter
	seen map[string]bool
}

func (w *reporterWriter) Write(b []byte) (int, error) {
	line := strings.TrimRight(string(b), "\n")
	if !w.seen[line] {
		w.seen[line] = true
		w.rep.printf("upscaler: %s", line)
	}
	return len(b), nil
}
