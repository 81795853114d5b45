package pool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/upscaler-go/upscaler/message"
	"github.com/upscaler-go/upscaler/models"
)

func newPool(t *testing.T, cfg Config) *Pool {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(context.Background()); err != nil {
			t.Errorf("Close() = %v, want nil", err)
		}
	})
	return p
}

func TestPoolResult(t *testing.T) {
	p := newPool(t, Config{})
	img := fixtureImage(t, 8, 6)
	for _, tc := range []struct {
		name  string
		req   *message.Request
		shape []int
	}{
		{"uint8", &message.Request{ID: "a", Tensor: rgb(img)}, []int{12, 16, 3}},
		{"fp32", &message.Request{ID: "b", Tensor: rgbFloat(img)}, []int{12, 16, 3}},
		{"rgba", &message.Request{ID: "c", Tensor: message.FromUint8(img.Pix, 6, 8, 4)}, []int{12, 16, 4}},
		{"model by name", &message.Request{ID: "d", Tensor: rgb(img), Model: "default-model:2x", Scale: 2}, []int{12, 16, 3}},
		{"no ID", &message.Request{Tensor: rgb(img)}, []int{12, 16, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := p.Submit(context.Background(), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			res, err := wait(t, h)
			if err != nil {
				t.Fatalf("Wait() error = %v", err)
			}
			if res.ID != h.ID() || h.ID() == "" {
				t.Errorf("Result.ID = %q, Handle.ID() = %q; want equal and not empty", res.ID, h.ID())
			}
			if tc.req.ID != "" && h.ID() != tc.req.ID {
				t.Errorf("Handle.ID() = %q, want the request's %q", h.ID(), tc.req.ID)
			}
			if !slices.Equal(res.Tensor.Shape, tc.shape) {
				t.Errorf("result shape = %v, want %v", res.Tensor.Shape, tc.shape)
			}
		})
	}
}

func TestPoolRejects(t *testing.T) {
	p := newPool(t, Config{})
	img := fixtureImage(t, 4, 4)
	nan := rgbFloat(img)
	nan.Float32[7] = float32(nanValue())

	// Bad requests fail at Submit.
	for _, tc := range []struct {
		name string
		req  *message.Request
	}{
		{"nil request", nil},
		{"NaN value", &message.Request{ID: "n", Tensor: nan}},
		{"shape disagrees with data", &message.Request{ID: "s", Tensor: message.FromUint8(make([]uint8, 10), 2, 2, 3)}},
		{"no tensor", &message.Request{ID: "t"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := p.Submit(context.Background(), tc.req)
			var de *message.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Submit(%s) = %v, %v; want a *message.DecodeError", tc.name, h, err)
			}
		})
	}

	// A request for another model fails when it runs.
	h, err := p.Submit(context.Background(), &message.Request{ID: "m", Tensor: rgb(img), Model: "esrgan-slim"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = wait(t, h)
	wantKind(t, err, message.KindUnknownModel)

	// So does a scale the model lacks.
	h, err = p.Submit(context.Background(), &message.Request{ID: "x", Tensor: rgb(img), Scale: 4})
	if err != nil {
		t.Fatal(err)
	}
	_, err = wait(t, h)
	wantKind(t, err, message.KindUnknownModel)
}

func nanValue() float64 {
	var zero float64
	return zero / zero
}

func TestPoolProgress(t *testing.T) {
	p := newPool(t, Config{})
	img := fixtureImage(t, 32, 32)
	h, err := p.Submit(context.Background(), &message.Request{ID: "g", Tensor: rgb(img), PatchSize: 16, ProgressPatches: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []*message.Progress
	for pr := range h.Progress() {
		got = append(got, pr)
	}
	res, err := wait(t, h)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("got %d progress messages for 4 patches, want 4", len(got))
	}
	for i, pr := range got {
		if pr.ID != "g" || pr.Fraction != float64(i+1)/4 || pr.Patch == nil || !slices.Equal(pr.Patch.Shape, []int{32, 32, 3}) {
			t.Errorf("progress %d = ID %q, fraction %v, patch %v; want g, %v, [32 32 3]", i, pr.ID, pr.Fraction, pr.Patch != nil, float64(i+1)/4)
		}
	}
	if !slices.Equal(res.Tensor.Shape, []int{64, 64, 3}) {
		t.Errorf("result shape = %v, want [64 64 3]", res.Tensor.Shape)
	}
}

// slowRequest is a job of 64 patches of 32 pixels, which the default
// model takes about a second to finish on one core.
func slowRequest(t testing.TB, id string) *message.Request {
	return &message.Request{ID: id, Tensor: rgb(fixtureImage(t, 256, 256)), PatchSize: 32, Padding: 4}
}

func TestPoolCancel(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T) submitter
		// started returns how many jobs began to run.
		started func(s submitter) int64
	}{
		{"in process", func(t *testing.T) submitter { return newPool(t, Config{QueueSize: 100}) },
			func(s submitter) int64 { return s.(*Pool).started.Load() }},
		{"processes", func(t *testing.T) submitter { return newProcessPool(t, ProcessConfig{QueueSize: 100}) },
			func(s submitter) int64 { return int64(s.(*ProcessPool).wire.load()) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := tc.make(t)

			// One running job and 50 queued ones.
			running, err := pool.Submit(context.Background(), slowRequest(t, "running"))
			if err != nil {
				t.Fatal(err)
			}
			firstProgress(t, running)
			small := rgb(fixtureImage(t, 8, 8))
			var queued []*Handle
			for i := range 50 {
				h, err := pool.Submit(context.Background(), &message.Request{ID: fmt.Sprint("q", i), Tensor: small})
				if err != nil {
					t.Fatal(err)
				}
				queued = append(queued, h)
			}

			// Cancel the 50 at once; none runs.
			for _, h := range queued {
				go h.Cancel()
			}
			for _, h := range queued {
				_, err := wait(t, h)
				wantKind(t, err, message.KindCanceled)
				if _, open := <-h.Progress(); open {
					t.Errorf("canceled queued job %s sent progress", h.ID())
				}
			}
			if n := tc.started(pool); n != 1 {
				t.Errorf("%d jobs started, want 1: canceled queued jobs must not run", n)
			}

			// Cancel the running job: it stops early.
			start := time.Now()
			running.Cancel()
			_, err = wait(t, running)
			wantKind(t, err, message.KindCanceled)
			t.Logf("running job stopped %v after Cancel", time.Since(start))

			// The pool still serves.
			h, err := pool.Submit(context.Background(), &message.Request{ID: "after", Tensor: small})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := wait(t, h); err != nil {
				t.Errorf("job after the cancels: %v", err)
			}
		})
	}
}

func TestPoolSubmitContext(t *testing.T) {
	p := newPool(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	h, err := p.Submit(ctx, slowRequest(t, "ctx"))
	if err != nil {
		t.Fatal(err)
	}
	firstProgress(t, h)
	cancel()
	_, err = wait(t, h)
	wantKind(t, err, message.KindCanceled)

	// Wait's own context does not cancel the job.
	h, err = p.Submit(context.Background(), &message.Request{ID: "w", Tensor: rgb(fixtureImage(t, 8, 8))})
	if err != nil {
		t.Fatal(err)
	}
	expired, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := h.Wait(expired); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait(canceled ctx) = %v, want context.Canceled", err)
	}
	if _, err := wait(t, h); err != nil {
		t.Errorf("Wait() after an expired Wait = %v, want the result", err)
	}
}

func TestPoolQueueFull(t *testing.T) {
	p := newPool(t, Config{QueueSize: 1})
	running, err := p.Submit(context.Background(), slowRequest(t, "running"))
	if err != nil {
		t.Fatal(err)
	}
	firstProgress(t, running) // out of the queue
	queued, err := p.Submit(context.Background(), &message.Request{ID: "queued", Tensor: rgb(fixtureImage(t, 8, 8))})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := p.TrySubmit(context.Background(), &message.Request{ID: "try", Tensor: rgb(fixtureImage(t, 8, 8))}); !errors.Is(err, ErrQueueFull) {
		t.Errorf("TrySubmit() on a full queue = %v, want ErrQueueFull", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Submit(ctx, &message.Request{ID: "block", Tensor: rgb(fixtureImage(t, 8, 8))}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Submit() on a full queue until the deadline = %v, want context.DeadlineExceeded", err)
	}

	// Space frees when the queued job leaves the queue.
	queued.Cancel()
	if _, err := p.TrySubmit(context.Background(), &message.Request{ID: "space", Tensor: rgb(fixtureImage(t, 8, 8))}); err != nil {
		t.Errorf("TrySubmit() after a cancel freed the queue = %v, want nil", err)
	}
	running.Cancel()
}

func TestPoolClose(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	img := rgb(fixtureImage(t, 8, 8))

	t.Run("drains", func(t *testing.T) {
		p, err := New(Config{Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		var hs []*Handle
		for i := range 6 {
			h, err := p.Submit(context.Background(), &message.Request{ID: fmt.Sprint(i), Tensor: img})
			if err != nil {
				t.Fatal(err)
			}
			hs = append(hs, h)
		}
		if err := p.Close(context.Background()); err != nil {
			t.Fatalf("Close() = %v, want nil", err)
		}
		for _, h := range hs {
			if _, err := wait(t, h); err != nil {
				t.Errorf("job %s after Close = %v, want its result", h.ID(), err)
			}
		}
		if _, err := p.Submit(context.Background(), &message.Request{ID: "late", Tensor: img}); !errors.Is(err, ErrClosed) {
			t.Errorf("Submit() after Close = %v, want ErrClosed", err)
		}
	})

	t.Run("deadline cancels", func(t *testing.T) {
		p, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		running, err := p.Submit(context.Background(), slowRequest(t, "running"))
		if err != nil {
			t.Fatal(err)
		}
		queued, err := p.Submit(context.Background(), slowRequest(t, "queued"))
		if err != nil {
			t.Fatal(err)
		}
		firstProgress(t, running)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if err := p.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Close(short deadline) = %v, want context.DeadlineExceeded", err)
		}
		for _, h := range []*Handle{running, queued} {
			_, err := wait(t, h)
			wantKind(t, err, message.KindCanceled)
		}
	})
}

func TestPoolSharedUpscaler(t *testing.T) {
	def := models.Default()
	owner := newPool(t, Config{Model: &def})
	p := newPool(t, Config{Upscaler: owner.Upscaler(), Workers: 2})
	h, err := p.Submit(context.Background(), &message.Request{ID: "s", Tensor: rgb(fixtureImage(t, 8, 8))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wait(t, h); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Closing p left the shared Upscaler open.
	h, err = owner.Submit(context.Background(), &message.Request{ID: "o", Tensor: rgb(fixtureImage(t, 8, 8))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wait(t, h); err != nil {
		t.Errorf("job on the owner after the sharing pool closed = %v, want its result", err)
	}
}
