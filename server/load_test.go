package server

import (
	"context"
	"fmt"
	"image"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/upscaler-go/upscaler/internal/loadtest"
)

// TestLoad sends 40 upscale requests from 8 concurrent clients to a server
// with 2 workers and a queue of 2, running in this process, while probing
// liveness and sampling the heap. It checks the responses, the heap's peak
// and that no goroutine outlives Run. The command's load test runs the
// service in its own process and holds liveness to 100 ms. Here the
// clients share the server's processors, so the bound is 500 ms.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	img, pngBytes := fixture(t, 64, 64)
	want := native(t, img, nil).Image()
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	addrc := make(chan string, 1)
	runErr := make(chan error, 1)
	go func() {
		runErr <- Run(ctx, Config{Addr: "127.0.0.1:0", Workers: 2, QueueLimit: 2, Grace: 10 * time.Second,
			Logger: testLogger(t), OnListen: func(a net.Addr) { addrc <- a.String() }})
	}()
	base := "http://" + <-addrc

	// Earlier tests in this process may keep memory, such as the buffers a
	// model keeps from its largest call, so the bound is on the growth.
	runtime.GC()
	var start runtime.MemStats
	runtime.ReadMemStats(&start)
	var peakHeap atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap.Load() {
				peakHeap.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	rep := loadtest.Run(ctx, loadtest.Config{
		BaseURL:  base,
		Body:     pngBytes,
		Requests: 40,
		Clients:  8,
		Check: func(got image.Image) error {
			if d := maxDiff(got, want); d != 0 {
				return fmt.Errorf("response differs from the in-process result by %d levels", d)
			}
			return nil
		},
		Backoff:    50 * time.Millisecond,
		ProbeEvery: 10 * time.Millisecond,
		SlowProbe:  100 * time.Millisecond,
	})
	close(stop)
	<-sampled
	cancel()
	if err := <-runErr; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}

	growth := int64(peakHeap.Load()) - int64(start.HeapInuse)
	t.Logf("%s; peak HeapInuse %.1f MiB, %.1f MiB above the start", rep, float64(peakHeap.Load())/(1<<20), float64(growth)/(1<<20))
	for _, err := range rep.Errors {
		t.Error(err)
	}
	if rep.OK == 0 {
		t.Error("no request succeeded")
	}
	// Under the race detector the latency is only reported.
	if limit := 500 * time.Millisecond; rep.WorstProbe > limit && !raceEnabled {
		t.Errorf("worst /v2/health/live latency = %s, want at most %s", rep.WorstProbe, limit)
	}
	if growth > 512<<20 {
		t.Errorf("peak HeapInuse grew by %d MiB during the load, want under 512 MiB", growth>>20)
	}
}
