package pool

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/upscaler-go/upscaler/message"
)

func TestProcessSameAsInProcess(t *testing.T) {
	in := newPool(t, Config{})
	pp := newProcessPool(t, ProcessConfig{})
	img := fixtureImage(t, 24, 20)
	for _, tc := range []struct {
		name string
		req  *message.Request
	}{
		{"uint8", &message.Request{ID: "u", Tensor: rgb(img)}},
		{"fp32", &message.Request{ID: "f", Tensor: rgbFloat(img)}},
		{"rgba", &message.Request{ID: "a", Tensor: message.FromUint8(img.Pix, 20, 24, 4)}},
		{"patches auto padding", &message.Request{ID: "p", Tensor: rgbFloat(img), PatchSize: 12, Padding: message.PaddingAuto, ProgressPatches: true}},
		{"png", &message.Request{ID: "n", Tensor: rgb(img), Output: message.OutputPNG}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var frames [2][]byte
			var progress [2][][]byte
			for i, s := range []submitter{in, pp} {
				h, err := s.Submit(context.Background(), tc.req)
				if err != nil {
					t.Fatal(err)
				}
				for pr := range h.Progress() {
					b, err := message.AppendFrame(nil, pr)
					if err != nil {
						t.Fatal(err)
					}
					progress[i] = append(progress[i], b)
				}
				res, err := wait(t, h)
				if err != nil {
					t.Fatalf("pool %d: %v", i, err)
				}
				if frames[i], err = message.AppendFrame(nil, res); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(frames[0], frames[1]) {
				t.Errorf("result frame in process (%d bytes) differs from the one from a worker process (%d bytes)", len(frames[0]), len(frames[1]))
			}
			if len(progress[0]) != len(progress[1]) {
				t.Fatalf("%d progress messages in process, %d from a worker process; want equal", len(progress[0]), len(progress[1]))
			}
			for i := range progress[0] {
				if !bytes.Equal(progress[0][i], progress[1][i]) {
					t.Errorf("progress message %d differs between the pools", i)
				}
			}
		})
	}
}

func TestProcessKillDuringJob(t *testing.T) {
	rec := recordProcs(t)
	pp := newProcessPool(t, ProcessConfig{})
	h, err := pp.Submit(context.Background(), slowRequest(t, "k"))
	if err != nil {
		t.Fatal(err)
	}
	firstProgress(t, h)
	victim := rec.list()[0]
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	res, err := wait(t, h)
	if err != nil {
		t.Fatalf("job whose worker was killed = %v, want its result from the retry", err)
	}
	if len(res.Tensor.Shape) != 3 || res.Tensor.Shape[0] != 512 {
		t.Errorf("result shape = %v, want [512 512 3]", res.Tensor.Shape)
	}
	if n := len(rec.list()); n != 2 {
		t.Errorf("%d worker processes started, want 2 (the first and its replacement)", n)
	}

	// The pool keeps serving.
	h, err = pp.Submit(context.Background(), &message.Request{ID: "after", Tensor: rgb(fixtureImage(t, 8, 8))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wait(t, h); err != nil {
		t.Errorf("job after the kill = %v, want its result", err)
	}
}

func TestProcessCrashTwice(t *testing.T) {
	rec := recordProcs(t)
	pp := newProcessPool(t, ProcessConfig{})
	h, err := pp.Submit(context.Background(), &message.Request{ID: "c", Tensor: rgb(fixtureImage(t, 8, 8)), Model: "test-exit"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = wait(t, h)
	me := wantKind(t, err, message.KindWorkerCrashed)
	for _, want := range []string{"exited with status 3", "retried once"} {
		if !strings.Contains(me.Message, want) {
			t.Errorf("error message %q does not say %q", me.Message, want)
		}
	}
	if me.ID != "c" {
		t.Errorf("error ID = %q, want c", me.ID)
	}

	// The pool keeps serving on a new process.
	h, err = pp.Submit(context.Background(), &message.Request{ID: "after", Tensor: rgb(fixtureImage(t, 8, 8))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wait(t, h); err != nil {
		t.Errorf("job after the crashes = %v, want its result", err)
	}
	if n := len(rec.list()); n != 3 {
		t.Errorf("%d worker processes started, want 3", n)
	}
}

func TestProcessMemoryLimit(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("MemoryLimit reads /proc, which only Linux has")
	}
	pp := newProcessPool(t, ProcessConfig{MemoryLimit: 256 << 20})
	h, err := pp.Submit(context.Background(), &message.Request{ID: "m", Tensor: rgb(fixtureImage(t, 8, 8)), Model: "test-alloc"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = wait(t, h)
	me := wantKind(t, err, message.KindWorkerCrashed)
	for _, want := range []string{"exceeded memory limit 256 MiB", "signal 9", "retried once"} {
		if !strings.Contains(me.Message, want) {
			t.Errorf("error message %q does not say %q", me.Message, want)
		}
	}
}

func TestProcessCancelGrace(t *testing.T) {
	rec := recordProcs(t)
	hanging := &stderrWatcher{want: "test-hang: ignoring cancellation", seen: make(chan struct{})}
	pp := newProcessPool(t, ProcessConfig{Grace: 200 * time.Millisecond, Logger: slog.New(hanging)})
	h, err := pp.Submit(context.Background(), &message.Request{ID: "h", Tensor: rgb(fixtureImage(t, 8, 8)), Model: "test-hang"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-hanging.seen:
	case <-time.After(time.Minute):
		t.Fatal("the worker did not start the hanging job within a minute")
	}
	start := time.Now()
	h.Cancel()
	_, err = wait(t, h)
	wantKind(t, err, message.KindCanceled)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancel of a job that ignores it took %v, want about the 200 ms grace", d)
	}
	first := rec.list()[0]
	select {
	case <-first.exited:
	case <-time.After(time.Minute):
		t.Fatal("the worker that ignored the cancel is still running a minute later")
	}
	if text := first.exitText(); !strings.Contains(text, "did not answer a cancel message") {
		t.Errorf("worker exit = %q, want it killed for not answering the cancel", text)
	}

	// A new process serves the next job.
	h, err = pp.Submit(context.Background(), &message.Request{ID: "after", Tensor: rgb(fixtureImage(t, 8, 8))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wait(t, h); err != nil {
		t.Errorf("job after the kill = %v, want its result", err)
	}
}

func TestProcessIdleRestart(t *testing.T) {
	rec := recordProcs(t)
	pp := newProcessPool(t, ProcessConfig{})
	first := rec.list()[0]
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-first.exited
	h, err := pp.Submit(context.Background(), &message.Request{ID: "i", Tensor: rgb(fixtureImage(t, 8, 8))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wait(t, h); err != nil {
		t.Errorf("job after an idle worker was killed = %v, want its result", err)
	}
	if n := len(rec.list()); n != 2 {
		t.Errorf("%d worker processes started, want 2", n)
	}
}

func TestProcessManyJobs(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rec := recordProcs(t)
	cfg := ProcessConfig{Command: nil, Workers: 2, QueueSize: 16, Logger: testLogger(t)}
	cfg.Command = []string{osArgs0()}
	cfg.Env = []string{"UPSCALER_TEST_WORKER=1"}
	pp, err := NewProcess(cfg)
	if err != nil {
		t.Fatal(err)
	}
	img := rgb(fixtureImage(t, 8, 8))
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		h, err := pp.Submit(context.Background(), &message.Request{ID: fmt.Sprint("j", i), Tensor: img})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := h.Wait(context.Background())
			if err == nil && (res.ID != h.ID() || len(res.Tensor.Uint8) != 16*16*3) {
				err = fmt.Errorf("job %s: result %s with %d bytes, want 768 bytes", h.ID(), res.ID, len(res.Tensor.Uint8))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if err := pp.Close(context.Background()); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	if n := len(rec.list()); n != 2 {
		t.Errorf("%d worker processes started for 200 jobs on 2 workers, want 2", n)
	}
	rec.checkAllExited(t)
}

func TestProcessCloseDeadline(t *testing.T) {
	rec := recordProcs(t)
	cfg := ProcessConfig{Command: []string{osArgs0()}, Env: []string{"UPSCALER_TEST_WORKER=1"}, Grace: time.Second, Logger: testLogger(t)}
	pp, err := NewProcess(cfg)
	if err != nil {
		t.Fatal(err)
	}
	running, err := pp.Submit(context.Background(), slowRequest(t, "running"))
	if err != nil {
		t.Fatal(err)
	}
	queued, err := pp.Submit(context.Background(), slowRequest(t, "queued"))
	if err != nil {
		t.Fatal(err)
	}
	firstProgress(t, running)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := pp.Close(ctx); err != context.DeadlineExceeded {
		t.Errorf("Close(short deadline) = %v, want context.DeadlineExceeded", err)
	}
	for _, h := range []*Handle{running, queued} {
		_, err := wait(t, h)
		wantKind(t, err, message.KindCanceled)
	}
	rec.checkAllExited(t)
}

func TestNewProcessErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  ProcessConfig
	}{
		{"no command", ProcessConfig{}},
		{"missing program", ProcessConfig{Command: []string{"/nonexistent/upscaler", "worker"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if pp, err := NewProcess(tc.cfg); err == nil {
				pp.Close(context.Background())
				t.Errorf("NewProcess(%+v) = nil error, want an error", tc.cfg)
			}
		})
	}
}
