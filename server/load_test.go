package server

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestLoad sends 40 upscale requests from 8 concurrent clients to a server
// with 2 workers and a queue of 2, while polling the liveness endpoint.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	const (
		requests = 40
		clients  = 8
	)
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
	transport := &http.Transport{MaxIdleConnsPerHost: clients + 1}
	client := &http.Client{Transport: transport, Timeout: 60 * time.Second}

	// Sample the heap and poll liveness until the clients finish.
	stop := make(chan struct{})
	var peakHeap, worstLive, probeCount, slowProbes atomic.Int64 // slowProbes: over 100 ms
	var probes sync.WaitGroup
	probes.Add(2)
	go func() {
		defer probes.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if int64(ms.HeapInuse) > peakHeap.Load() {
				peakHeap.Store(int64(ms.HeapInuse))
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	go func() {
		defer probes.Done()
		for {
			start := time.Now()
			resp, err := client.Get(base + "/v2/health/live")
			if err != nil {
				t.Errorf("GET /v2/health/live: %v", err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if d := int64(time.Since(start)); d > worstLive.Load() {
				worstLive.Store(d)
			}
			probeCount.Add(1)
			if d := time.Since(start); d > 100*time.Millisecond {
				slowProbes.Add(1)
				t.Logf("slow liveness probe at %s: %s", start.Format("15:04:05.000"), d)
			}
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET /v2/health/live: status %d, want 200", resp.StatusCode)
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()

	// Run the clients.
	var ok, busy atomic.Int64
	jobs := make(chan int, requests)
	for i := range requests {
		jobs <- i
	}
	close(jobs)
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				resp, err := client.Post(base+"/v1/upscale", "image/png", bytes.NewReader(pngBytes))
				if err != nil {
					t.Errorf("POST /v1/upscale: %v", err)
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case err != nil:
					t.Errorf("read response: %v", err)
				case resp.StatusCode == http.StatusTooManyRequests:
					if resp.Header.Get("Retry-After") == "" {
						t.Error("429 without Retry-After")
					}
					busy.Add(1)
					// Back off briefly, as a client honouring Retry-After
					// would (scaled down), so the load lasts long enough
					// for the probes to sample it.
					time.Sleep(50 * time.Millisecond)
				case resp.StatusCode == http.StatusOK:
					got, err := png.Decode(bytes.NewReader(body))
					if err != nil {
						t.Errorf("response is not a PNG: %v", err)
					} else if d := maxDiff(got, want); d != 0 {
						t.Errorf("response differs from the in-process result by %d levels", d)
					}
					ok.Add(1)
				default:
					t.Errorf("POST /v1/upscale: status %d, want 200 or 429: %s", resp.StatusCode, body)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	probes.Wait()

	cancel()
	if err := <-runErr; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	transport.CloseIdleConnections()

	t.Logf("%d requests in %s: %d got 200, %d got 429; %d liveness probes, %d over 100 ms, worst %s; peak HeapInuse %.1f MiB",
		requests, elapsed.Round(time.Millisecond), ok.Load(), busy.Load(), probeCount.Load(), slowProbes.Load(),
		time.Duration(worstLive.Load()).Round(time.Microsecond), float64(peakHeap.Load())/(1<<20))
	if ok.Load()+busy.Load() != requests {
		t.Errorf("%d responses were 200 or 429, want all %d", ok.Load()+busy.Load(), requests)
	}
	if ok.Load() == 0 {
		t.Error("no request succeeded")
	}
	// Liveness must respond within 100 ms. On a shared machine whose other
	// processes take the CPU, probes miss that by scheduling alone, so the
	// 100 ms bound is checked only with UPSCALER_STRICT_TIMING=1 (on a
	// machine with spare cores) and the default bound is 500 ms. Under the
	// race detector the latency is only reported.
	limit := 500 * time.Millisecond
	if os.Getenv("UPSCALER_STRICT_TIMING") == "1" {
		limit = 100 * time.Millisecond
	}
	if d := time.Duration(worstLive.Load()); d > limit && !raceEnabled {
		t.Errorf("worst /v2/health/live latency = %s, want at most %s", d, limit)
	}
	if peak := peakHeap.Load(); peak > 512<<20 {
		t.Errorf("peak HeapInuse = %d MiB, want under 512 MiB", peak>>20)
	}
}
