package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/internal/imageio"
	"github.com/upscaler-go/upscaler/models"
)

// binary is the upscaler command built once for all tests.
var binary string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "upscaler-cmd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "upscaler")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build upscaler:", err)
		return 1
	}
	return m.Run()
}

// result is what one run of the binary produced.
type result struct {
	stdout, stderr string
	code           int
}

// cli runs the binary with args in dir. The model cache is a fresh temporary
// folder unless env sets UPSCALER_CACHE, and the registry is a closed
// loopback port unless env sets one, so no test touches the user's cache or
// the network.
type cli struct {
	t     *testing.T
	dir   string
	env   []string
	stdin []byte
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	return &cli{t: t, dir: t.TempDir(), env: []string{
		"UPSCALER_CACHE=" + t.TempDir(),
		"NPM_CONFIG_REGISTRY=http://127.0.0.1:1/",
	}}
}

func (c *cli) cache() string {
	for _, e := range c.env {
		if v, ok := strings.CutPrefix(e, "UPSCALER_CACHE="); ok {
			return v
		}
	}
	return ""
}

func (c *cli) command(ctx context.Context, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), c.env...)
	if c.stdin != nil {
		cmd.Stdin = bytes.NewReader(c.stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// run runs the binary to completion, failing the test after 2 minutes.
func (c *cli) run(args ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd, stdout, stderr := c.command(ctx, args...)
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		c.t.Fatalf("upscaler %s: %v", strings.Join(args, " "), err)
	}
	return result{stdout.String(), stderr.String(), code}
}

// mustRun runs the binary and fails the test unless it exits 0.
func (c *cli) mustRun(args ...string) result {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("upscaler %s: exit status %d, want 0\nstderr:\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

// path returns name inside the run folder.
func (c *cli) path(name string) string { return filepath.Join(c.dir, name) }

// testImage returns a w×h image with smooth gradients and some texture, so
// the model output is not flat. With alpha, its left quarter is fully
// transparent and the next quarter half transparent.
func testImage(w, h int, alpha bool) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{
				R: uint8(x * 255 / max(w-1, 1)),
				G: uint8(y * 255 / max(h-1, 1)),
				B: uint8((x*x + 3*y*y + 7*x*y) % 256),
				A: 255,
			}
			if alpha && x < w/4 {
				c.A = 0
			} else if alpha && x < w/2 {
				c.A = 128
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// writePNG writes img as a PNG file in the run folder and returns its path.
func (c *cli) writePNG(name string, img image.Image) string {
	c.t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		c.t.Fatal(err)
	}
	return c.writeFile(name, buf.Bytes())
}

func (c *cli) writeFile(name string, data []byte) string {
	c.t.Helper()
	p := c.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o666); err != nil {
		c.t.Fatal(err)
	}
	return p
}

// decodeFile decodes an image file the command wrote.
func decodeFile(t *testing.T, path string) (image.Image, imageio.Format) {
	t.Helper()
	img, f, err := imageio.DecodeFile(path, imageio.Limits{})
	if err != nil {
		t.Fatalf("decode output: %v", err)
	}
	return img, f
}

// libraryOutput upscales the file at input with the library, as the command
// should, and returns the 8-bit result. A nil def means the default model.
func libraryOutput(t *testing.T, def *models.Definition, input string, opts *upscaler.Options) *image.NRGBA {
	t.Helper()
	u, err := upscaler.New(upscaler.Config{Model: def})
	if err != nil {
		t.Fatalf("upscaler.New: %v", err)
	}
	defer u.Close()
	res, err := u.Upscale(context.Background(), input, opts)
	if err != nil {
		t.Fatalf("Upscale(%s): %v", input, err)
	}
	return res.Image()
}

// checkSamePixels fails the test unless got and want have the same size and
// 8-bit NRGBA pixels.
func checkSamePixels(t *testing.T, name string, got image.Image, want *image.NRGBA) {
	t.Helper()
	if err := samePixels(got, want); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// samePixels reports the first difference in size or 8-bit NRGBA pixels
// between got and want.
func samePixels(got image.Image, want *image.NRGBA) error {
	if got.Bounds().Size() != want.Bounds().Size() {
		return fmt.Errorf("size %v, want %v", got.Bounds().Size(), want.Bounds().Size())
	}
	b := got.Bounds()
	for y := range b.Dy() {
		for x := range b.Dx() {
			g := color.NRGBAModel.Convert(got.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			if w := want.NRGBAAt(x, y); g != w {
				return fmt.Errorf("pixel (%d, %d) = %v, want %v (library output)", x, y, g, w)
			}
		}
	}
	return nil
}

// listDir returns the names in dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
