package browser

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/server"
)

const chromiumPath = "/usr/bin/chromium"

// page is one browser tab showing the upscaler page.
type page struct {
	t   *testing.T
	ctx context.Context
	dir string // fixtures
}

// openPage starts Chromium with a fresh profile, serves the page on
// loopback and opens it.
func openPage(t *testing.T) *page {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests are skipped in -short mode")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("UPSCALER_REQUIRE_BROWSER") == "1" {
			t.Fatalf("UPSCALER_REQUIRE_BROWSER=1 but %s is missing: apt-get install chromium", chromiumPath)
		}
		t.Skipf("%s not found: install Debian's chromium package to run the browser tests", chromiumPath)
	}

	srv, err := server.New(server.Config{Workers: 2, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Preload(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 8*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
	})
	p := &page{t: t, ctx: ctx, dir: t.TempDir()}
	p.run(chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.ID("drop")))
	return p
}

func (p *page) run(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatal(err)
	}
}

// eval evaluates a JavaScript expression and returns its result.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %.60q: %v", expr, err)
	}
	return v
}

// waitState polls until document.body.dataset.state is one of states and
// returns it.
func (p *page) waitState(timeout time.Duration, states ...string) string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		state := eval[string](p, `document.body.dataset.state`)
		for _, s := range states {
			if state == s {
				return state
			}
		}
		if time.Now().After(deadline) {
			status := eval[string](p, `document.getElementById("status").textContent`)
			errText := eval[string](p, `document.getElementById("error").textContent`)
			p.t.Fatalf("page state %q after %s, want one of %v (status %q, error %q)", state, timeout, states, status, errText)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// load puts data in the file input as a file named name.
func (p *page) load(name string, data []byte) {
	p.t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.run(chromedp.SetUploadFiles(chromedp.ID("file"), []string{path}))
}

// setup selects the engine and the patch size.
func (p *page) setup(engine string, patch int) {
	p.t.Helper()
	eval[chromedp.Void](p, fmt.Sprintf(`(() => {
		document.querySelector("input[name=engine][value=%s]").click();
		document.getElementById("patch").value = "%d";
		return true;
	})()`, engine, patch))
}

// resultImage reads the pixels of the result canvas.
func (p *page) resultImage() *image.NRGBA {
	p.t.Helper()
	type canvasPixels struct {
		W, H int
		Data string
	}
	out := eval[canvasPixels](p, `(() => {
		const c = document.getElementById("result");
		const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
		let s = "";
		for (let i = 0; i < d.length; i += 8192) {
			s += String.fromCharCode.apply(null, d.subarray(i, i + 8192));
		}
		return {w: c.width, h: c.height, data: btoa(s)};
	})()`)
	pix, err := base64.StdEncoding.DecodeString(out.Data)
	if err != nil {
		p.t.Fatal(err)
	}
	return &image.NRGBA{Pix: pix, Stride: 4 * out.W, Rect: image.Rect(0, 0, out.W, out.H)}
}

type lastRun struct {
	Engine, Mode, State string
	DurationMs          float64
	MaxFrameGapMs       float64
	// LongFrameGaps lists frame gaps over 50 ms as [ms since start, gap].
	LongFrameGaps [][2]float64
}

func (p *page) lastRun() lastRun {
	p.t.Helper()
	return eval[lastRun](p, `window.lastRun`)
}

func (p *page) screenshot(name string) []byte {
	p.t.Helper()
	b, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(90))
	if err != nil {
		p.t.Fatal(err)
	}
	dir := os.Getenv("UPSCALER_ARTIFACTS")
	if dir == "" {
		dir = p.t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s", path)
	return b
}

// fixture returns the top-left w×h pixels of testdata/astronaut.png and
// their PNG encoding.
func fixture(t *testing.T, w, h int) (*image.NRGBA, []byte) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "astronaut.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), src, src.Bounds().Min, draw.Src)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return img, buf.Bytes()
}

func maxDiff(a, b *image.NRGBA) int {
	worst := 0
	for y := 0; y < a.Rect.Dy(); y++ {
		for x := 0; x < a.Rect.Dx(); x++ {
			ca, cb := a.NRGBAAt(x, y), b.NRGBAAt(x, y)
			for _, d := range []int{int(ca.R) - int(cb.R), int(ca.G) - int(cb.G), int(ca.B) - int(cb.B)} {
				worst = max(worst, d, -d)
			}
		}
	}
	return worst
}

func TestPage(t *testing.T) {
	p := openPage(t)
	p.screenshot("before.png")

	// Wait for the worker to compile the WebAssembly upscaler; then the
	// frame gaps of the idle page show what the machine itself allows.
	deadline := time.Now().Add(time.Minute)
	for !eval[bool](p, `window.wasmPreloaded === true`) {
		if time.Now().After(deadline) {
			t.Fatalf("the worker did not load upscaler.wasm within a minute: %v", eval[any](p, `window.wasmPreloaded`))
		}
		time.Sleep(50 * time.Millisecond)
	}
	eval[chromedp.Void](p, `frameStats.reset()`)
	time.Sleep(3 * time.Second)
	idle := eval[lastRun](p, `({maxFrameGapMs: frameStats.maxGap, longFrameGaps: frameStats.longGaps})`)
	t.Logf("idle page: longest frame gap %.1f ms, gaps over 50 ms %v", idle.MaxFrameGapMs, idle.LongFrameGaps)
	// A worker upscale must keep the worst gap under 100 ms. On a shared
	// machine with few cores, the worker's busy core and other processes
	// delay frames by that much with the UI thread idle, so the 100 ms bound
	// applies only with UPSCALER_STRICT_TIMING=1 (on a machine with spare
	// cores). By default the test checks instead that the worker run's worst
	// gap is under half that of the same upscale on the UI thread, whose
	// worst gap lasts a whole patch.
	strict := os.Getenv("UPSCALER_STRICT_TIMING") == "1"
	workerGap := 0.0

	u, err := upscaler.New(upscaler.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	const patch = 24
	img, pngBytes := fixture(t, 48, 48)
	res, err := u.Upscale(context.Background(), img, &upscaler.Options{PatchSize: patch, AutoPadding: true})
	if err != nil {
		t.Fatal(err)
	}
	want := res.Image()

	for _, engine := range []string{"browser", "server"} {
		t.Run("worker "+engine, func(t *testing.T) {
			p.t = t
			p.setup(engine, patch)
			p.load("astronaut-48.png", pngBytes)
			p.waitState(10*time.Second, "ready")
			p.run(chromedp.Click(chromedp.ID("run-worker")))
			p.waitState(3*time.Minute, "done")
			got := p.resultImage()
			if got.Rect.Size() != want.Rect.Size() {
				t.Fatalf("result canvas is %v, want %v", got.Rect.Size(), want.Rect.Size())
			}
			if d := maxDiff(got, want); d > 1 {
				t.Errorf("result canvas differs from the native upscale by %d levels, want at most 1", d)
			}
			run := p.lastRun()
			t.Logf("%s engine in a worker: %.0f ms, longest frame gap %.1f ms, gaps over 50 ms %v", engine, run.DurationMs, run.MaxFrameGapMs, run.LongFrameGaps)
			if engine == "browser" {
				workerGap = run.MaxFrameGapMs
			}
			if strict && run.MaxFrameGapMs >= 100 {
				t.Errorf("longest requestAnimationFrame gap during a worker upscale = %.1f ms, want under 100 ms", run.MaxFrameGapMs)
			}
		})
	}
	p.t = t
	after := p.screenshot("after.png")
	if os.Getenv("UPSCALER_UPDATE_SCREENSHOT") == "1" {
		if err := os.WriteFile(filepath.Join("..", "docs", "screenshot.png"), after, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("ui thread", func(t *testing.T) {
		p.t = t
		p.setup("browser", patch)
		p.run(chromedp.Click(chromedp.ID("run-main")))
		p.waitState(3*time.Minute, "done")
		if d := maxDiff(p.resultImage(), want); d > 1 {
			t.Errorf("UI-thread result differs from the native upscale by %d levels, want at most 1", d)
		}
		run := p.lastRun()
		// The UI thread is blocked while each patch runs.
		t.Logf("browser engine on the UI thread: %.0f ms, longest frame gap %.1f ms, gaps over 50 ms %v", run.DurationMs, run.MaxFrameGapMs, run.LongFrameGaps)
		if workerGap >= run.MaxFrameGapMs/2 {
			t.Errorf("longest frame gap in a worker = %.1f ms, want under half the %.1f ms on the UI thread", workerGap, run.MaxFrameGapMs)
		}
	})

	for _, engine := range []string{"browser", "server"} {
		t.Run("cancel "+engine, func(t *testing.T) {
			p.t = t
			_, big := fixture(t, 128, 128)
			p.setup(engine, 16)
			p.load("astronaut-128.png", big)
			p.waitState(10*time.Second, "ready")
			p.run(chromedp.Click(chromedp.ID("run-worker")))
			deadline := time.Now().Add(time.Minute)
			for {
				if eval[float64](p, `document.getElementById("progress").value`) > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no progress within a minute")
				}
				time.Sleep(20 * time.Millisecond)
			}
			p.run(chromedp.Click(chromedp.ID("cancel")))
			if state := p.waitState(time.Minute, "canceled", "done"); state != "canceled" {
				t.Fatalf("state after cancel = %q, want canceled", state)
			}
		})
	}

	t.Run("corrupt file", func(t *testing.T) {
		p.t = t
		p.load("broken.png", append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{7}, 100)...))
		p.waitState(10*time.Second, "error")
		text := eval[string](p, `document.getElementById("error").textContent`)
		if !bytes.Contains([]byte(text), []byte("is not an image")) {
			t.Errorf("error shown for a corrupt file = %q, want it to say the file is not an image", text)
		}
	})
}
