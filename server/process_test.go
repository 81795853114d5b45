package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/message"
	"github.com/upscaler-go/upscaler/worker"
)

// workerEnv makes the test binary act as a worker process (see TestMain).
const workerEnv = "UPSCALER_SERVER_TEST_WORKER=1"

func TestMain(m *testing.M) {
	if os.Getenv("UPSCALER_SERVER_TEST_WORKER") == "1" {
		if err := worker.Serve(context.Background(), os.Stdin, os.Stdout, worker.Config{}); err != nil {
			fmt.Fprintln(os.Stderr, "test worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestProcessWorkers(t *testing.T) {
	s, ts := newTestServer(t, Config{WorkerMode: WorkerProcess, Workers: 2,
		WorkerCommand: []string{os.Args[0]}, WorkerEnv: []string{workerEnv}})
	img, pngBytes := fixture(t, 24, 16)
	want := native(t, img, nil)

	t.Run("png", func(t *testing.T) {
		resp, body := do(t, newRequest(t, "POST", ts.URL+"/v1/upscale", "image/png", pngBytes))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /v1/upscale: status %d, want 200: %s", resp.StatusCode, body)
		}
		got, err := png.Decode(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if d := maxDiff(got, want.Image()); d > 1 {
			t.Errorf("worker-process result differs from the in-process result by %d levels, want at most 1", d)
		}
	})

	t.Run("transparent png", func(t *testing.T) {
		rgba := image.NewNRGBA(img.Bounds())
		copy(rgba.Pix, img.Pix)
		for x := 0; x < 24; x++ {
			rgba.SetNRGBA(x, 0, color.NRGBA{10, 20, 30, 0})
			rgba.SetNRGBA(x, 1, color.NRGBA{10, 20, 30, 128})
		}
		var buf bytes.Buffer
		png.Encode(&buf, rgba)
		resp, body := do(t, newRequest(t, "POST", ts.URL+"/v1/upscale", "image/png", buf.Bytes()))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /v1/upscale: status %d, want 200: %s", resp.StatusCode, body)
		}
		got, err := png.Decode(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		wantImg := native(t, rgba, nil).Image()
		for _, p := range []image.Point{{0, 0}, {5, 1}, {7, 3}, {20, 20}} {
			_, _, _, a1 := got.At(p.X, p.Y).RGBA()
			_, _, _, a2 := wantImg.At(p.X, p.Y).RGBA()
			if d := int(a1>>8) - int(a2>>8); d > 1 || d < -1 {
				t.Errorf("alpha at %v = %d, want %d", p, a1>>8, a2>>8)
			}
		}
	})

	t.Run("json tensor", func(t *testing.T) {
		var data []int
		for y := 0; y < 16; y++ {
			for x := 0; x < 24; x++ {
				c := img.NRGBAAt(x, y)
				data = append(data, int(c.R), int(c.G), int(c.B))
			}
		}
		body, _ := json.Marshal(map[string]any{"data": data, "shape": []int{16, 24, 3}})
		req := newRequest(t, "POST", ts.URL+"/v1/upscale", "application/json", body)
		req.Header.Set("Accept", "application/json")
		resp, out := do(t, req)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /v1/upscale JSON: status %d, want 200: %s", resp.StatusCode, out)
		}
		got, err := message.UnmarshalJSON(out, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range got.Float32 {
			if math.Abs(float64(v-want.Tensor.Data[i])) > 1e-3 {
				t.Fatalf("output[%d] = %g, want %g", i, v, want.Tensor.Data[i])
			}
		}
	})

	t.Run("job progress", func(t *testing.T) {
		// The event stream reports the latest state, so a fast job may
		// finish between two reads. Hold the job after its first patch
		// until the stream has progressShown that patch's progress.
		seen := make(chan struct{})
		var once sync.Once
		s.afterProgress = func(p upscaler.Progress) {
			if p.Fraction > 0 {
				once.Do(func() {
					select {
					case <-seen:
					case <-time.After(10 * time.Second):
					}
				})
			}
		}
		// Hold both workers so that the event stream opens before the
		// job runs.
		for range 2 {
			if err := s.queue.acquire(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		id := createJob(t, ts, "?patchSize=8", pngBytes)
		resp, err := http.Get(ts.URL + "/v1/jobs/" + id + "/events")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		s.queue.release()
		s.queue.release()

		var events []sseEvent
		var block bytes.Buffer
		progressShown := false
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if sc.Text() != "" {
				fmt.Fprintln(&block, sc.Text())
				continue
			}
			ev := parseEvents(t, block.Bytes())[0]
			block.Reset()
			events = append(events, ev)
			if ev.name == "progress" && ev.data.Fraction > 0 && !progressShown {
				progressShown = true
				close(seen)
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}

		if len(events) == 0 || events[len(events)-1].name != "done" {
			t.Fatalf("events %+v, want the last to be done", events)
		}
		if !progressShown {
			t.Errorf("events %+v include no progress with a fraction above 0", events)
		}
	})

	t.Run("unknown model", func(t *testing.T) {
		resp, body := do(t, newRequest(t, "POST", ts.URL+"/v1/upscale?model=nope", "image/png", pngBytes))
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST /v1/upscale?model=nope: status %d, want 404: %s", resp.StatusCode, body)
		}
	})
}

func TestWorkerModeInvalid(t *testing.T) {
	if _, err := New(Config{WorkerMode: "threads"}); err == nil {
		t.Error(`New(WorkerMode "threads") succeeded, want an error`)
	}
}
