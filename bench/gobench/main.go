// Command gobench times one upscaling case with this module's upscaler and
// prints one JSON line per timed run, in the format bench/js/run.mjs prints
// for UpscalerJS, so bench/run.sh can put both in one table.
//
// It loads the model, upscales the input once untimed (the warm-up), then
// upscales it -repeats times. Each line records the wall time of that run and
// the peak resident set size of the process so far, which includes the
// model, the input, the warm-up and every earlier run:
//
//	go run ./bench/gobench -model esrgan-slim -scale 4 -size 256 -repeats 5
//	{"impl":"upscaler-go/avx2","model":"esrgan-slim","scale":4,"size":256,...}
//
// The GEMM kernel is the one package internal/gemm picks at start-up, so
// UPSCALER_GEMM=go and the openblas build tag select the other variants; the
// kernel name is part of the impl label.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/internal/gemm"
	"github.com/upscaler-go/upscaler/internal/imageio"
	"github.com/upscaler-go/upscaler/models"
	"github.com/upscaler-go/upscaler/tensor"
)

// record is one output line. Its keys match those of bench/js/run.mjs.
type record struct {
	Impl         string  `json:"impl"`
	Kernel       string  `json:"kernel"`
	Model        string  `json:"model"`
	Scale        int     `json:"scale"`
	Size         int     `json:"size"`
	Patch        int     `json:"patch"`
	Padding      int     `json:"padding"`
	Threads      int     `json:"threads"`
	Run          int     `json:"run"`
	Seconds      float64 `json:"seconds"`
	PeakRSSBytes int64   `json:"peakRSSBytes"`
	// OutputMean is the mean of the output tensor's values, a cheap check
	// that every implementation ran the same model on the same input.
	OutputMean float64 `json:"outputMean"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gobench:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		modelName = flag.String("model", "esrgan-slim", "model family, as in models.Lookup")
		scale     = flag.Int("scale", 4, "model scale")
		pkg       = flag.String("package", "", "npm package of the model (.tgz or folder); empty means testdata/npm/upscalerjs-MODEL-1.0.0.tgz when it exists, else the model cache")
		size      = flag.Int("size", 128, "side of the square synthetic input, in pixels")
		input     = flag.String("image", "", "image file to upscale instead of the synthetic input")
		patch     = flag.Int("patch", 0, "patch size in input pixels; 0 means the whole image in one pass")
		padding   = flag.Int("padding", 0, "padding of each patch in input pixels")
		repeats   = flag.Int("repeats", 3, "number of timed runs after the warm-up")
		threads   = flag.Int("threads", 0, "goroutines per upscale call; 0 means GOMAXPROCS")
		impl      = flag.String("impl", "", "label for the impl field; empty means upscaler-go/KERNEL")
	)
	flag.Parse()
	if *repeats < 1 {
		return fmt.Errorf("-repeats %d: need at least one timed run", *repeats)
	}
	if *size < 1 && *input == "" {
		return fmt.Errorf("-size %d: need a positive side, or -image", *size)
	}

	def, err := loadDefinition(*modelName, *scale, *pkg)
	if err != nil {
		return err
	}
	u, err := upscaler.New(upscaler.Config{Model: &def, Threads: *threads})
	if err != nil {
		return err
	}
	defer u.Close()

	// The input is built or decoded once, so the timed runs measure only the
	// upscaling.
	var in any
	side := *size
	if *input != "" {
		img, _, err := imageio.DecodeFile(*input, imageio.Limits{})
		if err != nil {
			return err
		}
		b := img.Bounds()
		if b.Dx() != b.Dy() {
			fmt.Fprintf(os.Stderr, "gobench: %s is %dx%d; the size field records its width\n", *input, b.Dx(), b.Dy())
		}
		side = b.Dx()
		in = img
	} else {
		in = syntheticInput(side)
	}
	opts := &upscaler.Options{PatchSize: *patch, Padding: *padding}

	rec := record{
		Impl:    *impl,
		Kernel:  gemm.Default().Name(),
		Model:   def.Name,
		Scale:   u.Scale(),
		Size:    side,
		Patch:   *patch,
		Padding: *padding,
		Threads: *threads,
	}
	if rec.Impl == "" {
		rec.Impl = "upscaler-go/" + rec.Kernel
	}
	if rec.Threads == 0 {
		rec.Threads = runtime.GOMAXPROCS(0)
	}

	ctx := context.Background()
	if _, err := u.Upscale(ctx, in, opts); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	// Each result is garbage once its line is printed. Collecting it before
	// the next run keeps the peak RSS to one output tensor at a time, as
	// run.mjs does by disposing each output; otherwise the Go heap may hold
	// the previous output too until the next collection.
	runtime.GC()
	enc := json.NewEncoder(os.Stdout)
	for i := 1; i <= *repeats; i++ {
		start := time.Now()
		res, err := u.Upscale(ctx, in, opts)
		elapsed := time.Since(start)
		if err != nil {
			return fmt.Errorf("run %d: %w", i, err)
		}
		rec.Run = i
		rec.Seconds = elapsed.Seconds()
		rec.PeakRSSBytes = peakRSS()
		rec.OutputMean = mean(res.Tensor.Data)
		if err := enc.Encode(rec); err != nil {
			return err
		}
		runtime.GC()
	}
	return nil
}

func mean(xs []float32) float64 {
	var sum float64
	for _, x := range xs {
		sum += float64(x)
	}
	return sum / float64(max(len(xs), 1))
}

// loadDefinition returns the model definition from the package at path, from
// the package in testdata/npm when path is empty and that file exists, or
// else from the model cache.
func loadDefinition(name string, scale int, path string) (models.Definition, error) {
	if path == "" {
		fam, err := family(name)
		if err != nil {
			return models.Definition{}, err
		}
		candidate := filepath.Join(moduleRoot(), "testdata", "npm",
			fmt.Sprintf("upscalerjs-%s-%s.tgz", filepath.Base(fam.Package), fam.Version))
		if _, err := os.Stat(candidate); err == nil {
			path = candidate
		}
	}
	if path != "" {
		return models.FromPackage(path, name, scale)
	}
	return models.Lookup(name, scale)
}

// family returns the official model family called name.
func family(name string) (models.Family, error) {
	for _, f := range models.Families() {
		if f.Name == name {
			return f, nil
		}
	}
	return models.Family{}, fmt.Errorf("-model %q: not an official model family (try esrgan-slim, esrgan-medium or esrgan-thick)", name)
}

// moduleRoot returns the nearest directory at or above the working directory
// that contains go.mod, or the working directory when there is none.
func moduleRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return wd
		}
		dir = parent
	}
}

// syntheticInput returns a side×side×3 tensor of values 0..255. The pattern
// is the one bench/js/run.mjs builds, so both sides see the same pixels:
// channel c of pixel (x, y) is (7x + 13y + 61c + (x·y mod 17)) mod 256.
func syntheticInput(side int) *tensor.Tensor {
	data := make([]float32, side*side*3)
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			for c := 0; c < 3; c++ {
				data[(y*side+x)*3+c] = float32((7*x + 13*y + 61*c + (x*y)%17) % 256)
			}
		}
	}
	t, err := tensor.FromData(data, side, side, 3)
	if err != nil {
		// The length is side·side·3 by construction.
		panic(err)
	}
	return t
}

// peakRSS returns the process's peak resident set size in bytes, from the
// VmHWM line of /proc/self/status (Linux). It returns 0 where that file is
// missing, and bench/run.sh then prints no memory figure.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		var kb int64
		if n, _ := fmt.Sscanf(line, "VmHWM: %d kB", &kb); n == 1 {
			return kb * 1024
		}
	}
	return 0
}
