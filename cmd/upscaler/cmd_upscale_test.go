package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/internal/registry"
	"github.com/upscaler-go/upscaler/internal/testfiles"
	"github.com/upscaler-go/upscaler/models"
)

func TestUpscaleDefaultOutputBesideInput(t *testing.T) {
	c := newCLI(t)
	in := c.writePNG("photo.png", testImage(32, 24, false))

	r := c.mustRun("upscale", "photo.png")

	got, format := decodeFile(t, c.path("photo@2x.png"))
	if format != "png" {
		t.Errorf("output format = %s, want png", format)
	}
	checkSamePixels(t, "photo@2x.png", got, libraryOutput(t, nil, in, nil))
	for _, want := range []string{"[1/1] photo.png: 32x24", "wrote photo@2x.png, 64x48", "1 of 1 images written"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr = %q, want it to contain %q", r.stderr, want)
		}
	}
	if r.stdout != "" {
		t.Errorf("stdout = %q, want empty", r.stdout)
	}
}

// pixelUpsamplerDir unpacks the pixel-upsampler package and returns its
// folder, for the custom model tests.
func pixelUpsamplerDir(t *testing.T) string {
	t.Helper()
	tgz := testfiles.Package(t, testfiles.PixelUpsampler)
	_, _, dir, err := (&registry.Client{CacheDir: t.TempDir()}).Import(tgz)
	if err != nil {
		t.Fatalf("unpack %s: %v", tgz, err)
	}
	return dir
}

func TestUpscaleMatchesLibrary(t *testing.T) {
	slim := testfiles.Package(t, testfiles.ESRGANSlim)
	pixel := testfiles.Package(t, testfiles.PixelUpsampler)
	customJSON := filepath.Join(pixelUpsamplerDir(t), "models", "x2", "x2.json")
	def := func(d models.Definition, err error) *models.Definition {
		if err != nil {
			t.Fatal(err)
		}
		return &d
	}

	tests := []struct {
		name  string
		args  []string
		alpha bool
		def   *models.Definition
		opts  *upscaler.Options
		scale int
	}{
		{"catalog name", []string{"-m", "default-model"}, false, nil, nil, 2},
		{"patches", []string{"--patch-size", "16", "--padding", "3"}, false, nil,
			&upscaler.Options{PatchSize: 16, Padding: 3}, 2},
		{"auto padding", []string{"--patch-size", "12", "--padding", "auto"}, false, nil,
			&upscaler.Options{PatchSize: 12, AutoPadding: true}, 2},
		{"alpha bicubic", []string{"--alpha", "bicubic"}, true, nil, &upscaler.Options{Alpha: upscaler.AlphaBicubic}, 2},
		{"alpha model", []string{"--alpha", "model"}, true, nil, &upscaler.Options{Alpha: upscaler.AlphaModel}, 2},
		{"threads", []string{"--threads", "1"}, false, nil, nil, 2},
		{"package tgz scale 3", []string{"-m", slim, "-s", "3"}, false,
			def(models.FromPackage(slim, "", 3)), nil, 3},
		{"package tgz long flags", []string{"--model", pixel, "--scale", "4"}, false,
			def(models.FromPackage(pixel, "", 4)), nil, 4},
		{"custom model.json unit range", []string{"-m", customJSON, "-s", "2", "--input-range", "0,1", "--output-range", "0,1"}, false,
			def(models.FromPackage(pixel, "", 2)), nil, 2},
		{"custom model.json byte range", []string{"-m", customJSON, "--scale", "2", "--input-range", "0,255", "--output-range", "0,255"}, false,
			def(models.FromPackage(pixel, "", 2)), nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			in := c.writePNG("in.png", testImage(32, 24, tt.alpha))

			c.mustRun(append(append([]string{"upscale", "-o", "out.png"}, tt.args...), "in.png")...)

			got, _ := decodeFile(t, c.path("out.png"))
			if size := got.Bounds().Size(); size != image.Pt(32*tt.scale, 24*tt.scale) {
				t.Fatalf("output size = %v, want %v", size, image.Pt(32*tt.scale, 24*tt.scale))
			}
			checkSamePixels(t, "out.png", got, libraryOutput(t, tt.def, in, tt.opts))
		})
	}
}

// TestUpscaleAutoPatches checks that an image over 512×512 pixels is cut
// into patches of 256 by default, with automatic padding unless --padding
// is given.
func TestUpscaleAutoPatches(t *testing.T) {
	if testing.Short() {
		t.Skip("upscales a 600×450 image three times")
	}
	tests := []struct {
		name string
		args []string
		opts *upscaler.Options
	}{
		{"default padding", nil, &upscaler.Options{PatchSize: 256, AutoPadding: true}},
		{"padding given", []string{"--padding", "4"}, &upscaler.Options{PatchSize: 256, Padding: 4}},
		{"auto padding given", []string{"--padding", "auto"}, &upscaler.Options{PatchSize: 256, AutoPadding: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			in := c.writePNG("in.png", testImage(600, 450, false))

			c.mustRun(append(append([]string{"upscale", "-o", "out.png"}, tt.args...), "in.png")...)

			got, _ := decodeFile(t, c.path("out.png"))
			checkSamePixels(t, "out.png", got, libraryOutput(t, nil, in, tt.opts))
		})
	}
}

// TestUpscaleCustomRangeApplied checks that the range flags reach the model:
// the pixel upsampler copies its input, so declaring a 0..1 output for a
// model that writes 0..255 saturates every non-zero value.
func TestUpscaleCustomRangeApplied(t *testing.T) {
	customJSON := filepath.Join(pixelUpsamplerDir(t), "models", "x2", "x2.json")
	c := newCLI(t)
	src := testImage(8, 8, false)
	c.writePNG("in.png", src)

	c.mustRun("upscale", "-m", customJSON, "-s", "2", "--output-range", "0,1", "-o", "out.png", "in.png")

	got, _ := decodeFile(t, c.path("out.png"))
	r, _, _, _ := got.At(10, 10).RGBA()
	if want := src.NRGBAAt(5, 5).R; want > 0 && r>>8 != 255 {
		t.Errorf("red at (10, 10) with --output-range 0,1 = %d, want 255 (input %d scaled up and clipped)", r>>8, want)
	}
}

func TestUpscaleFormatAndQuality(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		output string
		want   string // format decoded from the output
	}{
		{"format flag without extension", []string{"--format", "jpeg", "-o", "out"}, "out", "jpeg"},
		{"format flag overrides extension", []string{"--format", "webp", "-o", "out.png"}, "out.png", "webp"},
		{"jpg extension", []string{"-o", "out.jpg"}, "out.jpg", "jpeg"},
		{"webp extension with quality", []string{"-o", "out.webp", "--quality", "50"}, "out.webp", "webp"},
		{"default name takes format extension", []string{"--format", "jpg"}, "in@2x.jpg", "jpeg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			c.writePNG("in.png", testImage(32, 24, false))
			c.mustRun(append(append([]string{"upscale"}, tt.args...), "in.png")...)
			if _, f := decodeFile(t, c.path(tt.output)); string(f) != tt.want {
				t.Errorf("format of %s = %s, want %s", tt.output, f, tt.want)
			}
		})
	}

	t.Run("jpeg quality changes size", func(t *testing.T) {
		c := newCLI(t)
		c.writePNG("in.png", testImage(32, 24, false))
		c.mustRun("upscale", "--quality", "5", "-o", "low.jpg", "in.png")
		c.mustRun("upscale", "--quality", "100", "-o", "high.jpg", "in.png")
		low, err := os.Stat(c.path("low.jpg"))
		if err != nil {
			t.Fatal(err)
		}
		high, err := os.Stat(c.path("high.jpg"))
		if err != nil {
			t.Fatal(err)
		}
		if low.Size() >= high.Size() {
			t.Errorf("size at --quality 5 = %d bytes, at 100 = %d; want the first smaller", low.Size(), high.Size())
		}
	})

	t.Run("jpeg input keeps extension", func(t *testing.T) {
		c := newCLI(t)
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, testImage(32, 24, false), nil); err != nil {
			t.Fatal(err)
		}
		c.writeFile("in.jpg", buf.Bytes())
		c.mustRun("upscale", "in.jpg")
		if _, f := decodeFile(t, c.path("in@2x.jpg")); f != "jpeg" {
			t.Errorf("format of in@2x.jpg = %s, want jpeg", f)
		}
	})
}

// truncatedPNG returns a real PNG cut in the middle of its pixel data.
func truncatedPNG(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, testImage(32, 24, false)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()[:buf.Len()/2]
}

func TestUpscaleBatchWithCorruptFile(t *testing.T) {
	c := newCLI(t)
	c.writePNG("in/a.png", testImage(16, 12, false))
	c.writeFile("in/b.png", truncatedPNG(t))
	c.writePNG("in/c.png", testImage(12, 16, false))
	c.writeFile("in/notes.txt", []byte("not an image"))

	r := c.run("upscale", "-o", "out", "in")

	if r.code != 1 {
		t.Errorf("exit status = %d, want 1\nstderr:\n%s", r.code, r.stderr)
	}
	if got, want := listDir(t, c.path("out")), []string{"a@2x.png", "c@2x.png"}; !slices.Equal(got, want) {
		t.Errorf("output folder = %v, want %v", got, want)
	}
	for _, want := range []string{"in/b.png: ", "2 of 3 images written", "1 of 3 inputs failed: in/b.png"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr = %q, want it to contain %q", r.stderr, want)
		}
	}
	if strings.Contains(r.stderr, "notes.txt") {
		t.Errorf("stderr = %q mentions notes.txt, which is not an image and should be left out", r.stderr)
	}
}

func TestUpscaleFolderBesideInputs(t *testing.T) {
	c := newCLI(t)
	c.writePNG("in/a.png", testImage(16, 12, false))
	c.writePNG("in/b.png", testImage(12, 16, false))
	c.writePNG("in/sub/c.png", testImage(8, 8, false))

	c.mustRun("upscale", "in")

	want := []string{"a.png", "a@2x.png", "b.png", "b@2x.png", "sub"}
	if got := listDir(t, c.path("in")); !slices.Equal(got, want) {
		t.Errorf("input folder after run = %v, want %v (subfolders are not entered)", got, want)
	}
	if got := listDir(t, c.path("in/sub")); !slices.Equal(got, []string{"c.png"}) {
		t.Errorf("subfolder after run = %v, want [c.png]", got)
	}
}

func TestUpscaleSeveralFilesToNewFolder(t *testing.T) {
	c := newCLI(t)
	c.writePNG("a.png", testImage(16, 12, false))
	c.writePNG("b.png", testImage(12, 16, false))

	c.mustRun("upscale", "--output", "deep/out", "a.png", "b.png")

	if got, want := listDir(t, c.path("deep/out")), []string{"a@2x.png", "b@2x.png"}; !slices.Equal(got, want) {
		t.Errorf("output folder = %v, want %v", got, want)
	}
}

func TestUpscaleMissingInputFile(t *testing.T) {
	c := newCLI(t)
	c.writePNG("a.png", testImage(16, 12, false))

	r := c.run("upscale", "missing.png", "a.png")

	if r.code != 1 {
		t.Errorf("exit status = %d, want 1", r.code)
	}
	if !strings.Contains(r.stderr, "missing.png: cannot read input") {
		t.Errorf("stderr = %q, want it to name missing.png", r.stderr)
	}
	if _, err := os.Stat(c.path("a@2x.png")); err != nil {
		t.Errorf("a@2x.png was not written after a missing input: %v", err)
	}
}

func TestUpscaleMaxPixels(t *testing.T) {
	c := newCLI(t)
	c.writePNG("big.png", testImage(16, 12, false))
	c.writePNG("small.png", testImage(8, 8, false))

	r := c.run("upscale", "--max-pixels", "100", "big.png", "small.png")

	if r.code != 1 {
		t.Errorf("exit status = %d, want 1", r.code)
	}
	if !strings.Contains(r.stderr, "big.png: image too large: declared size 16x12 is 192 pixels, over the limit of 100; raise the limit with --max-pixels") {
		t.Errorf("stderr = %q, want the size, the limit and --max-pixels", r.stderr)
	}
	if strings.Contains(r.stderr, "Limits.") {
		t.Errorf("stderr = %q names a library setting a command user cannot change", r.stderr)
	}
	if _, err := os.Stat(c.path("small@2x.png")); err != nil {
		t.Errorf("small@2x.png was not written beside an input over the limit: %v", err)
	}
}

func TestUpscaleWarnings(t *testing.T) {
	tests := []struct {
		name        string
		transparent bool
		args        []string
		want        string // in stderr
	}{
		{"format against extension", false, []string{"--format", "jpeg", "-o", "out.png"}, "in.png: writing jpeg, as --format asks, to out.png"},
		{"transparent to JPEG", true, []string{"-o", "out.jpg"}, "in.png: JPEG has no transparency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			c.writePNG("in.png", testImage(16, 12, tt.transparent))

			r := c.run(append(append([]string{"upscale"}, tt.args...), "in.png")...)

			if r.code != 0 {
				t.Fatalf("exit status = %d, want 0\nstderr:\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", r.stderr, tt.want)
			}
		})
	}
}

func TestUpscaleExistingOutput(t *testing.T) {
	c := newCLI(t)
	c.writePNG("in.png", testImage(16, 12, false))
	old := []byte("an older file")
	c.writeFile("out.png", old)

	r := c.run("upscale", "-o", "out.png", "in.png")

	if r.code != 1 {
		t.Errorf("exit status = %d, want 1", r.code)
	}
	if !strings.Contains(r.stderr, "out.png already exists") || !strings.Contains(r.stderr, "--overwrite") {
		t.Errorf("stderr = %q, want it to name out.png and --overwrite", r.stderr)
	}
	if got, _ := os.ReadFile(c.path("out.png")); !bytes.Equal(got, old) {
		t.Errorf("out.png = %q after a refused run, want it unchanged", got)
	}

	c.mustRun("upscale", "--overwrite", "-o", "out.png", "in.png")
	if img, _ := decodeFile(t, c.path("out.png")); img.Bounds().Dx() != 32 {
		t.Errorf("width of out.png after --overwrite = %d, want 32", img.Bounds().Dx())
	}
}

func TestUpscaleStdinToStdout(t *testing.T) {
	c := newCLI(t)
	in := c.writePNG("in.png", testImage(32, 24, true))
	c.stdin, _ = os.ReadFile(in)

	r := c.mustRun("upscale", "-")

	got, err := png.Decode(strings.NewReader(r.stdout))
	if err != nil {
		t.Fatalf("decode stdout as PNG: %v", err)
	}
	checkSamePixels(t, "stdout", got, libraryOutput(t, nil, in, nil))
	if entries := listDir(t, c.dir); !slices.Equal(entries, []string{"in.png"}) {
		t.Errorf("folder after writing to stdout = %v, want [in.png]", entries)
	}

	c.stdin = nil
	r = c.mustRun("upscale", "-o", "-", "--format", "jpeg", "in.png")
	if _, err := jpeg.Decode(strings.NewReader(r.stdout)); err != nil {
		t.Errorf("decode stdout of -o - --format jpeg as JPEG: %v", err)
	}
}

func TestUpscaleJSON(t *testing.T) {
	c := newCLI(t)
	c.writePNG("a.png", testImage(16, 12, false))
	c.writeFile("bad.png", truncatedPNG(t))

	r := c.run("upscale", "--json", "-o", "out", "a.png", "bad.png")

	if r.code != 1 {
		t.Errorf("exit status = %d, want 1", r.code)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("stdout has %d lines, want 2:\n%s", len(lines), r.stdout)
	}
	var good, bad record
	if err := json.Unmarshal([]byte(lines[0]), &good); err != nil {
		t.Fatalf("line 1 %q: %v", lines[0], err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &bad); err != nil {
		t.Fatalf("line 2 %q: %v", lines[1], err)
	}
	want := record{Input: "a.png", Output: filepath.Join("out", "a@2x.png"), Width: 16, Height: 12,
		OutWidth: 32, OutHeight: 24, Model: "default-model:2x", Scale: 2}
	good.Seconds = 0
	if good != want {
		t.Errorf("line 1 = %+v, want %+v", good, want)
	}
	if bad.Input != "bad.png" || bad.Error == "" || bad.Output != "" {
		t.Errorf("line 2 = %+v, want input bad.png with an error and no output", bad)
	}
	if strings.Contains(r.stderr, "[1/2]") || strings.Contains(r.stderr, "images written") {
		t.Errorf("stderr with --json = %q, want no progress or summary", r.stderr)
	}
}

func TestUpscaleQuiet(t *testing.T) {
	c := newCLI(t)
	c.writePNG("a.png", testImage(16, 12, false))

	for _, flag := range []string{"-q", "--quiet"} {
		r := c.mustRun("upscale", flag, "--overwrite", "a.png")
		if r.stderr != "" || r.stdout != "" {
			t.Errorf("upscale %s: stdout = %q, stderr = %q, want both empty", flag, r.stdout, r.stderr)
		}
	}
}

func TestUpscaleUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"unknown flag", []string{"upscale", "--bogus", "in.png"}, "--bogus"},
		{"unknown command", []string{"upscal", "in.png"}, `"upscal"`},
		{"missing input", []string{"upscale"}, "missing INPUT"},
		{"scale 5", []string{"upscale", "--scale", "5", "in.png"}, "--scale 5"},
		{"scale 5 for a family", []string{"upscale", "-m", "esrgan-slim", "-s", "5", "in.png"}, "invalid --scale 5: esrgan-slim has no 5x model; it comes in 2x, 3x, 4x or 8x"},
		{"scale not a number", []string{"upscale", "-s", "two", "in.png"}, `invalid --scale "two": use a whole number`},
		{"patch size not a number", []string{"upscale", "--patch-size", "abc", "in.png"}, `invalid --patch-size abc: use a number of pixels, 0 for one pass over the whole image, or auto`},
		{"overwrite not a boolean", []string{"upscale", "--overwrite=maybe", "in.png"}, `invalid --overwrite "maybe": use true or false`},
		{"padding x", []string{"upscale", "--patch-size", "16", "--padding", "x", "in.png"}, `--padding "x"`},
		{"padding too large", []string{"upscale", "--patch-size", "16", "--padding", "8", "in.png"}, "less than half"},
		{"padding without patches", []string{"upscale", "--patch-size", "0", "--padding", "2", "in.png"}, "--patch-size 0"},
		{"padding too large for auto patches", []string{"upscale", "--padding", "128", "in.png"}, "invalid --padding 128 for --patch-size auto"},
		{"negative patch size", []string{"upscale", "--patch-size", "-1", "in.png"}, "--patch-size -1"},
		{"quality 200", []string{"upscale", "--quality", "200", "in.png"}, "--quality 200"},
		{"format gif", []string{"upscale", "--format", "gif", "in.png"}, `--format "gif"`},
		{"output extension", []string{"upscale", "-o", "out.gif", "in.png"}, ".gif"},
		{"alpha", []string{"upscale", "--alpha", "sharp", "in.png"}, `--alpha "sharp"`},
		{"threads", []string{"upscale", "--threads", "-2", "in.png"}, "--threads -2"},
		{"max pixels", []string{"upscale", "--max-pixels", "0", "in.png"}, "--max-pixels 0"},
		{"unknown model", []string{"upscale", "-m", "esrgan-tiny", "in.png"}, "esrgan-tiny"},
		{"missing model file", []string{"upscale", "-m", "./nope/model.json", "in.png"}, "./nope/model.json"},
		{"custom model without scale", []string{"upscale", "-m", "model.json", "in.png"}, "--scale"},
		{"bad range", []string{"upscale", "-m", "model.json", "-s", "2", "--input-range", "0-1", "in.png"}, `--input-range "0-1"`},
		{"stdout for two inputs", []string{"upscale", "-o", "-", "in.png", "in.png"}, "-o -"},
		{"json with stdout", []string{"upscale", "--json", "-"}, "--json"},
		{"stdin twice", []string{"upscale", "-", "-"}, "standard input"},
		{"pull without name", []string{"models", "pull"}, "NAME"},
		{"pull unknown model", []string{"models", "pull", "esrgan-tiny"}, "esrgan-tiny"},
		{"unknown models command", []string{"models", "remove"}, `"remove"`},
		{"serve workers", []string{"serve", "--workers", "0"}, "--workers 0"},
		{"serve worker mode", []string{"serve", "--worker-mode", "thread"}, "--worker-mode \"thread\""},
		{"serve worker memory", []string{"serve", "--worker-mode", "process", "--worker-memory-limit", "-1"}, "--worker-memory-limit -1"},
		{"worker threads", []string{"worker", "--threads", "-1"}, "--threads -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)
			c.writePNG("in.png", testImage(8, 8, false))
			c.writeFile("model.json", []byte("{}"))

			r := c.run(tt.args...)

			if r.code != 2 {
				t.Errorf("upscaler %s: exit status %d, want 2\nstderr:\n%s", strings.Join(tt.args, " "), r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("upscaler %s: stderr = %q, want it to contain %q", strings.Join(tt.args, " "), r.stderr, tt.want)
			}
			if got := listDir(t, c.dir); !slices.Equal(got, []string{"in.png", "model.json"}) {
				t.Errorf("folder after a usage error = %v, want only the inputs", got)
			}
		})
	}
}

func TestUpscaleModelNotCached(t *testing.T) {
	c := newCLI(t)
	c.writePNG("in.png", testImage(8, 8, false))

	r := c.run("upscale", "-m", "esrgan-thick:4x", "in.png")

	if r.code != 1 {
		t.Errorf("exit status = %d, want 1", r.code)
	}
	if !strings.Contains(r.stderr, "upscaler models pull esrgan-thick") {
		t.Errorf("stderr = %q, want the command that downloads the model", r.stderr)
	}
}

func TestUpscaleInterrupt(t *testing.T) {
	medium := testfiles.Package(t, testfiles.ESRGANMedium)
	c := newCLI(t)
	c.writePNG("big.png", testImage(256, 256, false))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd, _, _ := c.command(ctx, "upscale", "-m", medium, "--patch-size", "32", "--padding", "4", "big.png")
	cmd.Stderr = nil
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	// Interrupt once the image has started.
	var log strings.Builder
	var signalled time.Time
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "upscaling") {
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			signalled = time.Now()
			break
		}
	}
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
	}
	err = cmd.Wait()
	stopped := time.Since(signalled)

	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Errorf("exit after SIGINT: %v, want status %d\nstderr:\n%s", err, exitInterrupted, log.String())
	}
	if !strings.Contains(log.String(), "interrupted while upscaling big.png") {
		t.Errorf("stderr = %q, want it to say the run was interrupted on big.png", log.String())
	}
	if got := listDir(t, c.dir); !slices.Equal(got, []string{"big.png"}) {
		t.Errorf("folder after interrupt = %v, want only big.png (no output, no temporary file)", got)
	}
	t.Logf("exited %v after SIGINT", stopped)
}

func TestHelpAndVersion(t *testing.T) {
	c := newCLI(t)
	for _, args := range [][]string{{"help"}, {"--help"}} {
		r := c.mustRun(args...)
		for _, want := range []string{"Exit status:", "  2    bad usage", "  130  interrupted", "upscale"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("upscaler %s: stdout lacks %q:\n%s", args[0], want, r.stdout)
			}
		}
	}
	r := c.mustRun("version")
	if !strings.HasPrefix(r.stdout, "upscaler ") || !strings.Contains(r.stdout, "go1.") {
		t.Errorf("upscaler version = %q, want \"upscaler VERSION (goX, OS/ARCH)\"", r.stdout)
	}
}
