package pool

import (
	"context"
	"errors"
	"image"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/upscaler-go/upscaler/internal/testfiles"
	"github.com/upscaler-go/upscaler/message"
)

// fixtureImage returns the fixture image of the default model's package,
// repeated to fill w×h.
func fixtureImage(t testing.TB, w, h int) *image.NRGBA {
	t.Helper()
	return testfiles.Tiled(testfiles.Asset(t, testfiles.DefaultModel, "assets/fixture.png"), w, h)
}

// rgb returns the RGB bytes of img as a UINT8 tensor message.
func rgb(img *image.NRGBA) *message.Tensor {
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	out := make([]uint8, 0, w*h*3)
	for i := 0; i < len(img.Pix); i += 4 {
		out = append(out, img.Pix[i:i+3]...)
	}
	return message.FromUint8(out, h, w, 3)
}

// rgbFloat returns the RGB values of img as an FP32 tensor message.
func rgbFloat(img *image.NRGBA) *message.Tensor {
	u := rgb(img)
	f := make([]float32, len(u.Uint8))
	for i, v := range u.Uint8 {
		f[i] = float32(v)
	}
	return &message.Tensor{Shape: u.Shape, DataType: message.FP32, Float32: f}
}

// submitter is the API both pools share.
type submitter interface {
	Submit(ctx context.Context, req *message.Request) (*Handle, error)
	TrySubmit(ctx context.Context, req *message.Request) (*Handle, error)
	Close(ctx context.Context) error
}

// wait returns the outcome of h, failing the test after a minute.
func wait(t testing.TB, h *Handle) (*message.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := h.Wait(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("job %s did not end within a minute", h.ID())
	}
	return res, err
}

// wantKind checks that err is a *message.Error of the given kind.
func wantKind(t testing.TB, err error, kind message.ErrorKind) *message.Error {
	t.Helper()
	var me *message.Error
	if !errors.As(err, &me) {
		t.Fatalf("error = %v, want a *message.Error of kind %s", err, kind)
	}
	if me.Kind != kind {
		t.Fatalf("error kind = %s (%s), want %s", me.Kind, me.Message, kind)
	}
	return me
}

// firstProgress waits for the first progress message of h.
func firstProgress(t testing.TB, h *Handle) *message.Progress {
	t.Helper()
	select {
	case p, ok := <-h.Progress():
		if !ok {
			_, err := h.Wait(context.Background())
			t.Fatalf("job %s ended without progress: %v", h.ID(), err)
		}
		return p
	case <-time.After(time.Minute):
		t.Fatalf("job %s sent no progress within a minute", h.ID())
		return nil
	}
}

// procRecorder records the worker processes the pools start.
type procRecorder struct {
	mu    sync.Mutex
	procs []*proc
}

// recordProcs sets procStarted for the test and returns the recorder.
func recordProcs(t *testing.T) *procRecorder {
	r := &procRecorder{}
	procStarted = func(p *proc) {
		r.mu.Lock()
		r.procs = append(r.procs, p)
		r.mu.Unlock()
	}
	t.Cleanup(func() { procStarted = nil })
	return r
}

func (r *procRecorder) list() []*proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*proc(nil), r.procs...)
}

// checkAllExited checks that every recorded process has exited and been
// waited for: its exit channel is closed, it has a ProcessState, and its
// *os.Process reports that it is done.
func (r *procRecorder) checkAllExited(t *testing.T) {
	t.Helper()
	for _, p := range r.list() {
		select {
		case <-p.exited:
		default:
			t.Errorf("worker process %d still running after Close", p.pid)
			continue
		}
		if p.cmd.ProcessState == nil {
			t.Errorf("worker process %d was not waited for", p.pid)
		}
		if err := p.cmd.Process.Signal(os.Kill); !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("Signal(os.Kill) to worker process %d after Close = %v, want os.ErrProcessDone", p.pid, err)
		}
	}
}

// newProcessPool starts a ProcessPool of test workers and closes it when
// the test ends.
func newProcessPool(t *testing.T, cfg ProcessConfig) *ProcessPool {
	t.Helper()
	cfg.Command = []string{os.Args[0]}
	cfg.Env = append(cfg.Env, "UPSCALER_TEST_WORKER=1")
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	pp, err := NewProcess(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := pp.Close(ctx); err != nil {
			t.Errorf("Close() = %v, want nil", err)
		}
	})
	return pp
}

// testLogger logs warnings and errors to the test log, and drops the
// records of a test that has ended.
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(b)))
	}
	return len(b), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

var _ io.Writer = (*testWriter)(nil)

// osArgs0 returns the path of the test binary.
func osArgs0() string { return os.Args[0] }

// stderrWatcher is a slog handler that closes seen when a worker process
// writes a stderr line containing want.
type stderrWatcher struct {
	want string
	seen chan struct{}
	once sync.Once
}

func (w *stderrWatcher) Enabled(context.Context, slog.Level) bool { return true }

func (w *stderrWatcher) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "line" && strings.Contains(a.Value.String(), w.want) {
			w.once.Do(func() { close(w.seen) })
		}
		return true
	})
	return nil
}

func (w *stderrWatcher) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *stderrWatcher) WithGroup(string) slog.Handler      { return w }
