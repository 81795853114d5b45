package upscaler_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/internal/testfiles"
	"github.com/upscaler-go/upscaler/models"
	"github.com/upscaler-go/upscaler/tensor"
)

func defaultUpscaler(t testing.TB) *upscaler.Upscaler {
	t.Helper()
	u, err := upscaler.New(upscaler.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

func TestUpscaleDefaultMatchesSample(t *testing.T) {
	u := defaultUpscaler(t)
	res, err := u.Upscale(context.Background(), fixture(t, testfiles.DefaultModel), nil)
	if err != nil {
		t.Fatal(err)
	}
	pkgSample := sample(t, testfiles.DefaultModel, "assets/samples/2x/result.png")
	img := res.Image()
	if img.Bounds() != pkgSample.Bounds() {
		t.Fatalf("Upscale(fixture) size = %v, want %v", img.Bounds(), pkgSample.Bounds())
	}
	diff := 0
	for y := range img.Bounds().Dy() {
		for x := range img.Bounds().Dx() {
			a := img.NRGBAAt(x, y)
			b := color.NRGBAModel.Convert(pkgSample.At(x, y)).(color.NRGBA)
			for _, d := range []int{int(a.R) - int(b.R), int(a.G) - int(b.G), int(a.B) - int(b.B)} {
				if d > 1 || d < -1 {
					t.Fatalf("pixel (%d, %d) = %v, want %v within 1 level", x, y, a, b)
				}
				if d != 0 {
					diff++
				}
			}
		}
	}
	if float64(diff) > 0.001*float64(img.Bounds().Dx()*img.Bounds().Dy()*3) {
		t.Errorf("%d values differ from the sample, want at most 0.1%%", diff)
	}
	if !img.Opaque() {
		t.Errorf("Image() of an opaque input is not opaque")
	}
}

func sample(t testing.TB, pkgFile, name string) image.Image {
	t.Helper()
	return testfiles.Asset(t, pkgFile, name)
}

func TestUpscaleInputKinds(t *testing.T) {
	u := defaultUpscaler(t)
	src := fixture(t, testfiles.DefaultModel)
	var buf bytes.Buffer
	if err := png.Encode(&buf, src); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "in.png")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := u.Upscale(context.Background(), src, nil)
	if err != nil {
		t.Fatal(err)
	}
	inT, _ := imageTensor(src)
	u8 := make([]uint8, len(inT.Data))
	for i, v := range inT.Data {
		u8[i] = uint8(v)
	}
	dataURI := "data:image/png;base64," + base64Encode(buf.Bytes())
	b := src.Bounds()
	rgba := image.NewRGBA(b)
	draw.Draw(rgba, b, src, b.Min, draw.Src)
	// The sub-image starts at (3, 2) of a larger canvas, so its rows are
	// read with an offset and a stride wider than the image.
	canvas := image.NewNRGBA(image.Rect(0, 0, b.Dx()+5, b.Dy()+4))
	draw.Draw(canvas, b.Add(image.Pt(3, 2)), src, b.Min, draw.Src)
	sub := canvas.SubImage(b.Add(image.Pt(3, 2)))
	u8rgba := make([]uint8, 0, len(u8)/3*4)
	for i := 0; i < len(u8); i += 3 {
		u8rgba = append(u8rgba, u8[i], u8[i+1], u8[i+2], 255)
	}
	inputs := map[string]any{
		"RGBA image":        rgba,
		"NRGBA sub-image":   sub,
		"opaque uint8 RGBA": upscaler.Uint8Tensor{Shape: []int{b.Dy(), b.Dx(), 4}, Data: u8rgba},
		"bytes":             buf.Bytes(),
		"reader":            bytes.NewReader(buf.Bytes()),
		"path":              path,
		"data URI":          dataURI,
		"tensor rank3":      inT,
		"tensor rank4":      &tensor.Tensor{Shape: append([]int{1}, inT.Shape...), Data: inT.Data},
		"uint8 tensor":      upscaler.Uint8Tensor{Shape: inT.Shape, Data: u8},
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			got, err := u.Upscale(context.Background(), in, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxRoundedDiff(got.Tensor, want.Tensor); d != 0 {
				t.Errorf("Upscale(%s) differs from Upscale(image) by %v levels", name, d)
			}
		})
	}
}

func TestUpscaleTensorOutput(t *testing.T) {
	u := defaultUpscaler(t)
	in := tensor.New(10, 7, 3)
	for i := range in.Data {
		in.Data[i] = float32(i % 256)
	}
	res, err := u.Upscale(context.Background(), in, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{20, 14, 3}; !equalInts(res.Tensor.Shape, want) {
		t.Fatalf("output shape = %v, want %v", res.Tensor.Shape, want)
	}
	fractional := false
	for _, v := range res.Tensor.Data {
		if v < 0 || v > 255 || math.IsNaN(float64(v)) {
			t.Fatalf("output value %v outside 0..255", v)
		}
		if v != float32(math.Round(float64(v))) {
			fractional = true
		}
	}
	if !fractional {
		t.Errorf("tensor output is rounded; it should keep the model's fractions")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestUpscaleRejectsBadTensors(t *testing.T) {
	u := defaultUpscaler(t)
	nan := tensor.New(4, 4, 3)
	nan.Data[5] = float32(math.NaN())
	inf := tensor.New(4, 4, 3)
	inf.Data[0] = float32(math.Inf(1))
	cases := map[string]struct {
		in   any
		want string // a fragment the message must contain
	}{
		"rank 2":       {&tensor.Tensor{Shape: []int{4, 12}, Data: make([]float32, 48)}, "[4 12]"},
		"rank 5":       {&tensor.Tensor{Shape: []int{1, 1, 4, 4, 3}, Data: make([]float32, 48)}, "[1 1 4 4 3]"},
		"batch 2":      {&tensor.Tensor{Shape: []int{2, 4, 4, 3}, Data: make([]float32, 96)}, "[2 4 4 3]"},
		"5 channels":   {&tensor.Tensor{Shape: []int{4, 4, 5}, Data: make([]float32, 80)}, "[4 4 5]"},
		"data length":  {&tensor.Tensor{Shape: []int{4, 4, 3}, Data: make([]float32, 47)}, "47"},
		"NaN":          {nan, "NaN"},
		"infinite":     {inf, "Inf"},
		"negative":     {&tensor.Tensor{Shape: []int{1, 2, 3}, Data: []float32{0, 1, 2, 3, -0.5, 5}}, "pixel 1 channel 1 is -0.5"},
		"over 255":     {&tensor.Tensor{Shape: []int{1, 1, 3}, Data: []float32{0, 255, 255.5}}, "0..255"},
		"unknown type": {42, "int"},
		"not an image": {[]byte("hello"), ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := u.Upscale(context.Background(), c.in, nil)
			if !errors.Is(err, upscaler.ErrInput) {
				t.Fatalf("Upscale(%s) error = %v, want ErrInput", name, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("Upscale(%s) error %q does not mention %q", name, err, c.want)
			}
		})
	}
}

func TestUpscalePixelLimit(t *testing.T) {
	u := defaultUpscaler(t)
	_, err := u.Upscale(context.Background(), grey(100, 100), &upscaler.Options{MaxPixels: 9999})
	if !errors.Is(err, upscaler.ErrInput) {
		t.Fatalf("Upscale(100×100, MaxPixels 9999) error = %v, want ErrInput", err)
	}
}

func TestPatchOptionsValidated(t *testing.T) {
	u := defaultUpscaler(t)
	for _, o := range []upscaler.Options{{PatchSize: 8, Padding: 4}, {PatchSize: 8, Padding: 5}, {PatchSize: -1}, {PatchSize: 8, Padding: -1}} {
		_, err := u.Upscale(context.Background(), grey(20, 20), &o)
		if !errors.Is(err, upscaler.ErrOptions) {
			t.Errorf("Upscale(patch %d, padding %d) error = %v, want ErrOptions", o.PatchSize, o.Padding, err)
		}
	}
}

func TestProgress(t *testing.T) {
	u := defaultUpscaler(t)
	var got []upscaler.Progress
	res, err := u.Upscale(context.Background(), grey(20, 30), &upscaler.Options{
		PatchSize: 12, Padding: 2, ProgressOutput: true,
		Progress: func(p upscaler.Progress) { got = append(got, p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	// 20 wide: windows at 0 and 8; 30 high: windows at 0, 8, 16 and 18.
	if len(got) != 8 {
		t.Fatalf("progress called %d times, want 8", len(got))
	}
	for i, p := range got {
		if want := float64(i+1) / 8; math.Abs(p.Fraction-want) > 1e-12 {
			t.Errorf("progress %d fraction = %v, want %v", i, p.Fraction, want)
		}
		if p.Row != i/2 || p.Col != i%2 {
			t.Errorf("progress %d at row %d column %d, want %d, %d", i, p.Row, p.Col, i/2, i%2)
		}
		if p.Output == nil || p.Output.Shape[0] != p.Keep.Dy()*2 || p.Output.Shape[1] != p.Keep.Dx()*2 {
			t.Fatalf("progress %d output shape wrong for keep %v", i, p.Keep)
		}
		// The patch output is the result's region under Keep.
		for y := range p.Output.Shape[0] {
			for x := range p.Output.Shape[1] {
				oy, ox := p.Keep.Min.Y*2+y, p.Keep.Min.X*2+x
				for c := range 3 {
					if a, b := p.Output.Data[(y*p.Output.Shape[1]+x)*3+c], res.Tensor.Data[(oy*40+ox)*3+c]; a != b {
						t.Fatalf("progress %d output (%d, %d) = %v, result has %v", i, x, y, a, b)
					}
				}
			}
		}
	}
	if got[len(got)-1].Fraction != 1 {
		t.Errorf("last fraction = %v, want exactly 1", got[len(got)-1].Fraction)
	}

	// No patches, no progress.
	calls := 0
	if _, err := u.Upscale(context.Background(), grey(8, 8), &upscaler.Options{Progress: func(upscaler.Progress) { calls++ }}); err != nil {
		t.Fatal(err)
	}
	if calls != 0 {
		t.Errorf("progress called %d times without patches, want 0", calls)
	}
}

// TestWarnings checks the situations in which UpscalerJS warns.
func TestWarnings(t *testing.T) {
	var buf bytes.Buffer
	u, err := upscaler.New(upscaler.Config{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	cases := map[string]upscaler.Options{
		"without padding":      {PatchSize: 8},
		"without a patch size": {Progress: func(upscaler.Progress) {}},
	}
	for want, o := range cases {
		buf.Reset()
		if _, err := u.Upscale(context.Background(), grey(10, 10), &o); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log %q does not warn %q", buf.String(), want)
		}
	}
	buf.Reset()
	if _, err := u.Upscale(context.Background(), grey(10, 10), &upscaler.Options{PatchSize: 8, Padding: 2}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("patches with padding logged %q, want nothing", buf.String())
	}
}

func TestDivisorAndFixedSize(t *testing.T) {
	path := testfiles.Package(t, testfiles.ESRGANSlim)
	def, err := models.FromPackage(path, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	base, err := upscaler.New(upscaler.Config{Model: &def})
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	img := grey(13, 9)
	for name, d := range map[string]models.Definition{
		"divisor 4":     withDivisor(def, 4),
		"fixed size 16": withInputSize(def, 16),
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			u, err := upscaler.New(upscaler.Config{Model: &d, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer u.Close()
			calls := 0
			res, err := u.Upscale(context.Background(), img, &upscaler.Options{PatchSize: 7, Padding: 1, Progress: func(upscaler.Progress) { calls++ }})
			if err != nil {
				t.Fatal(err)
			}
			if want := []int{18, 26, 3}; !equalInts(res.Tensor.Shape, want) {
				t.Errorf("output shape = %v, want %v", res.Tensor.Shape, want)
			}
			if calls == 0 {
				t.Errorf("progress never called")
			}
			if !strings.Contains(buf.String(), "patch size") {
				t.Errorf("no warning about the patch size; log: %q", buf.String())
			}
		})
	}
}

func withDivisor(d models.Definition, n int) models.Definition   { d.Divisor = n; return d }
func withInputSize(d models.Definition, n int) models.Definition { d.InputSize = n; return d }

func TestCancel(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	u := newUpscaler(t, testfiles.ESRGANMedium, "esrgan-medium", 2)
	img := grey(256, 256)

	t.Run("before start", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		called := false
		_, err := u.Upscale(ctx, img, &upscaler.Options{PatchSize: 32, Padding: 4, Progress: func(upscaler.Progress) { called = true }})
		if !errors.Is(err, upscaler.ErrAborted) || !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want ErrAborted and context.Canceled", err)
		}
		if called {
			t.Errorf("a cancelled call did work")
		}
	})
	t.Run("context during run", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		start := time.Now()
		time.AfterFunc(200*time.Millisecond, cancel)
		_, err := u.Upscale(ctx, img, nil)
		if !errors.Is(err, upscaler.ErrAborted) || !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want ErrAborted and context.Canceled", err)
		}
		t.Logf("stopped %v after the start", time.Since(start))
	})
	t.Run("abort", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Go(func() { _, errs[i] = u.Upscale(context.Background(), img, nil) })
		}
		time.Sleep(200 * time.Millisecond)
		u.Abort()
		wg.Wait()
		for i, err := range errs {
			if !errors.Is(err, upscaler.ErrAborted) || errors.Is(err, context.Canceled) {
				t.Errorf("call %d error = %v, want ErrAborted alone", i, err)
			}
		}
	})
	t.Run("usable afterwards", func(t *testing.T) {
		if _, err := u.Upscale(context.Background(), grey(16, 16), nil); err != nil {
			t.Fatalf("Upscale after abort: %v", err)
		}
	})
}

func TestClose(t *testing.T) {
	u, err := upscaler.New(upscaler.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Upscale(context.Background(), grey(4, 4), nil); !errors.Is(err, upscaler.ErrClosed) {
		t.Errorf("Upscale after Close error = %v, want ErrClosed", err)
	}
	if err := u.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

func TestConcurrentCalls(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	u := defaultUpscaler(t)
	imgs := []image.Image{grey(24, 16), uniform(16, 24, color.NRGBA{200, 30, 90, 255}), fixture(t, testfiles.DefaultModel)}
	want := make([]*tensor.Tensor, len(imgs))
	for i, img := range imgs {
		r, err := u.Upscale(context.Background(), img, nil)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = r.Tensor
	}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for k := range 3 {
				i := (g + k) % len(imgs)
				opts := &upscaler.Options{}
				if k == 1 {
					opts = &upscaler.Options{PatchSize: 32, AutoPadding: true} // seamless for this model
				}
				r, err := u.Upscale(context.Background(), imgs[i], opts)
				if err != nil {
					t.Error(err)
					return
				}
				if d := maxRoundedDiff(r.Tensor, want[i]); d > 1 {
					t.Errorf("goroutine %d image %d differs by %v", g, i, d)
				}
			}
		})
	}
	wg.Wait()
}

func TestWarmUp(t *testing.T) {
	u, err := upscaler.New(upscaler.Config{WarmUp: []int{8, 16}})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if err := u.WarmUp(context.Background(), upscaler.WarmUpSize{Patch: 12}); err != nil {
		t.Fatal(err)
	}
	if err := u.WarmUp(context.Background(), upscaler.WarmUpSize{}); !errors.Is(err, upscaler.ErrOptions) {
		t.Errorf("WarmUp(0×0) error = %v, want ErrOptions", err)
	}
}

func TestWriteFile(t *testing.T) {
	u := defaultUpscaler(t)
	res, err := u.Upscale(context.Background(), grey(8, 6), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"a.png", "a.jpg", "a.webp"} {
		p := filepath.Join(dir, name)
		if err := res.WriteFile(p, nil); err != nil {
			t.Fatalf("WriteFile(%s): %v", name, err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		cfg, format, err := image.DecodeConfig(f)
		f.Close()
		if err != nil {
			t.Fatalf("decode %s: %v", name, err)
		}
		if cfg.Width != 16 || cfg.Height != 12 {
			t.Errorf("%s is %d×%d, want 16×12", name, cfg.Width, cfg.Height)
		}
		t.Logf("%s: %s", name, format)
		if err := res.WriteFile(p, nil); !errors.Is(err, os.ErrExist) {
			t.Errorf("WriteFile(%s) over an existing file error = %v, want fs.ErrExist", name, err)
		}
	}
	uri, err := res.DataURI()
	if err != nil || !strings.HasPrefix(uri, "data:image/png;base64,") {
		t.Errorf("DataURI() = %.40q, %v", uri, err)
	}
}
