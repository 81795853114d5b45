package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io"
	"log/slog"
	"math"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/message"
)

// fixture returns the top-left w×h pixels of testdata/astronaut.png as an
// image and as PNG bytes.
func fixture(t testing.TB, w, h int) (*image.NRGBA, []byte) {
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

var (
	nativeOnce sync.Once
	nativeU    *upscaler.Upscaler
	nativeErr  error
)

// native upscales img with the embedded default model in process, the
// reference for what the service returns.
func native(t testing.TB, img image.Image, opts *upscaler.Options) *upscaler.Result {
	t.Helper()
	nativeOnce.Do(func() { nativeU, nativeErr = upscaler.New(upscaler.Config{}) })
	if nativeErr != nil {
		t.Fatal(nativeErr)
	}
	res, err := nativeU.Upscale(context.Background(), img, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// newTestServer starts s on an httptest server on loopback.
func newTestServer(t testing.TB, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Preload(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return s, ts
}

func do(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func newRequest(t testing.TB, method, url, ctype string, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return req
}

// maxDiff returns the largest channel difference between two images of the
// same size, or 256 when their sizes differ.
func maxDiff(a, b image.Image) int {
	if a.Bounds().Size() != b.Bounds().Size() {
		return 256
	}
	worst := 0
	for y := 0; y < a.Bounds().Dy(); y++ {
		for x := 0; x < a.Bounds().Dx(); x++ {
			r1, g1, b1, _ := a.At(a.Bounds().Min.X+x, a.Bounds().Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(b.Bounds().Min.X+x, b.Bounds().Min.Y+y).RGBA()
			for _, d := range []int{int(r1>>8) - int(r2>>8), int(g1>>8) - int(g2>>8), int(b1>>8) - int(b2>>8)} {
				if d < 0 {
					d = -d
				}
				worst = max(worst, d)
			}
		}
	}
	return worst
}

func multipartBody(t testing.TB, field string, data []byte) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("note", "ignored")
	fw, err := mw.CreateFormFile(field, "in.png")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

func TestUpscaleImage(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	img, pngBytes := fixture(t, 24, 16)
	want := native(t, img, nil).Image()
	mpType, mpBody := multipartBody(t, "image", pngBytes)

	tests := []struct {
		name, query, ctype string
		body               []byte
		wantType           string
		maxDiff            int
		opts               *upscaler.Options
	}{
		{"png body", "", "image/png", pngBytes, "image/png", 0, nil},
		{"octet-stream body", "?model=default-model&scale=2", "application/octet-stream", pngBytes, "image/png", 0, nil},
		{"multipart", "", mpType, mpBody, "image/png", 0, nil},
		{"patches", "?patchSize=12&padding=auto", "image/png", pngBytes, "image/png", 0, &upscaler.Options{PatchSize: 12, AutoPadding: true}},
		{"patches padded", "?patchSize=12&padding=2", "image/png", pngBytes, "image/png", 0, &upscaler.Options{PatchSize: 12, Padding: 2}},
		{"jpeg output", "?format=jpeg&quality=95", "image/png", pngBytes, "image/jpeg", 40, nil},
		{"webp output", "?format=webp&quality=95", "image/png", pngBytes, "image/webp", 40, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, newRequest(t, "POST", ts.URL+"/v1/upscale"+tc.query, tc.ctype, tc.body))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("POST /v1/upscale%s: status %d, want 200: %s", tc.query, resp.StatusCode, body)
			}
			if got := resp.Header.Get("Content-Type"); got != tc.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tc.wantType)
			}
			got, _, err := image.Decode(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("decode response: %v", err)
			}
			if got.Bounds().Dx() != 48 || got.Bounds().Dy() != 32 {
				t.Fatalf("response size = %v, want 48x32", got.Bounds().Size())
			}
			want := want
			if tc.opts != nil {
				want = native(t, img, tc.opts).Image()
			}
			if d := maxDiff(got, want); d > tc.maxDiff {
				t.Errorf("response differs from the in-process result by %d levels, want at most %d", d, tc.maxDiff)
			}
		})
	}
}

func TestUpscaleJSONTensor(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	img, _ := fixture(t, 10, 6)
	want := native(t, img, nil).Tensor

	// The page's worker sends canvas pixels without alpha.
	var data []int
	for y := 0; y < 6; y++ {
		for x := 0; x < 10; x++ {
			c := img.NRGBAAt(x, y)
			data = append(data, int(c.R), int(c.G), int(c.B))
		}
	}
	body, _ := json.Marshal(map[string]any{"data": data, "shape": []int{6, 10, 3}})
	req := newRequest(t, "POST", ts.URL+"/v1/upscale", "application/json", body)
	req.Header.Set("Accept", "application/json")
	resp, out := do(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/upscale JSON: status %d, want 200: %s", resp.StatusCode, out)
	}
	got, err := message.UnmarshalJSON(out, nil)
	if err != nil {
		t.Fatalf("response is not a JSON tensor: %v", err)
	}
	if fmt.Sprint(got.Shape) != "[12 20 3]" {
		t.Fatalf("response shape = %v, want [12 20 3]", got.Shape)
	}
	for i, v := range got.Float32 {
		if math.Abs(float64(v-want.Data[i])) > 1e-3 {
			t.Fatalf("response[%d] = %g, want %g", i, v, want.Data[i])
		}
	}
}

func TestUpscaleErrors(t *testing.T) {
	_, ts := newTestServer(t, Config{MaxPixels: 30 * 30, MaxBodyBytes: 64 << 10})
	_, small := fixture(t, 8, 8)
	_, big := fixture(t, 40, 40)
	huge := bytes.Repeat([]byte{0x89}, 65<<10)
	mpType, mpBody := multipartBody(t, "file", small)

	tests := []struct {
		name, query, ctype string
		body               []byte
		want               int
		wantText           string
	}{
		{"not an image", "", "image/png", []byte("hello, not an image"), 415, "format"},
		{"truncated png", "", "image/png", small[:60], 400, ""},
		{"empty body", "", "image/png", nil, 400, "empty body"},
		{"too many pixels", "", "image/png", big, 413, "--max-pixels"},
		{"body too large", "", "image/png", huge, 413, "--max-body-bytes"},
		{"unknown model", "?model=no-such-model", "image/png", small, 404, "no-such-model"},
		{"wrong scale", "?model=default-model&scale=4", "image/png", small, 404, "scale=4"},
		{"bad format", "?format=gif", "image/png", small, 400, "format"},
		{"bad patch size", "?patchSize=-3", "image/png", small, 400, "patchSize"},
		{"bad padding", "?padding=lots", "image/png", small, 400, "padding"},
		{"padding too wide", "?patchSize=8&padding=6", "image/png", small, 400, ""},
		{"bad quality", "?format=jpeg&quality=300", "image/png", small, 400, "quality"},
		{"quality zero", "?format=jpeg&quality=0", "image/png", small, 400, "1..100"},
		{"quality negative", "?format=jpeg&quality=-5", "image/png", small, 400, "1..100"},
		{"multipart without image", "", mpType, mpBody, 400, `"image"`},
		{"json not a tensor", "", "application/json", []byte(`{"data":[1,2],"shape":[1,1,3]}`), 400, ""},
		{"json grey tensor", "", "application/json", []byte(`{"data":[1,2],"shape":[1,2,1]}`), 400, ""},
		{"json value out of range", "", "application/json", []byte(`{"data":[1,2,300],"shape":[1,1,3]}`), 400, "300"},
		{"json too many pixels", "", "application/json", []byte(`{"data":[],"shape":[31,31,3]}`), 413, "--max-pixels"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, newRequest(t, "POST", ts.URL+"/v1/upscale"+tc.query, tc.ctype, tc.body))
			if resp.StatusCode != tc.want {
				t.Fatalf("POST /v1/upscale%s (%s): status %d, want %d: %s", tc.query, tc.name, resp.StatusCode, tc.want, body)
			}
			var e struct{ Error string }
			if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
				t.Fatalf("error body %q is not {\"error\": message}", body)
			}
			if !strings.Contains(e.Error, tc.wantText) {
				t.Errorf("error = %q, want it to mention %q", e.Error, tc.wantText)
			}
			if strings.Count(e.Error, "unknown model") > 1 {
				t.Errorf("error = %q, want \"unknown model\" once", e.Error)
			}
			// The service's clients cannot change the library's Limits.
			if strings.Contains(e.Error, "Limits.") {
				t.Errorf("error = %q, want no advice about the library's Limits", e.Error)
			}
		})
	}
}

func TestQueueFullReturns429(t *testing.T) {
	s, ts := newTestServer(t, Config{Workers: 1, QueueLimit: -1})
	_, small := fixture(t, 8, 8)
	if err := s.queue.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.queue.release()

	for _, path := range []string{"/v1/upscale", "/v1/jobs"} {
		resp, body := do(t, newRequest(t, "POST", ts.URL+path, "image/png", small))
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("POST %s with the queue full: status %d, want 429: %s", path, resp.StatusCode, body)
		}
		if ra := resp.Header.Get("Retry-After"); ra == "" {
			t.Errorf("POST %s: 429 without Retry-After", path)
		}
	}
}

func TestRequestTimeout(t *testing.T) {
	s, ts := newTestServer(t, Config{Workers: 1, QueueLimit: 1, RequestTimeout: 100 * time.Millisecond})
	_, small := fixture(t, 8, 8)
	if err := s.queue.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.queue.release()
	resp, body := do(t, newRequest(t, "POST", ts.URL+"/v1/upscale", "image/png", small))
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "timed out") {
		t.Fatalf("POST /v1/upscale past its timeout: status %d %s, want 503 timed out", resp.StatusCode, body)
	}
}

// TestClientDisconnectFreesWorker cancels a request while its upscale runs
// and checks that the worker slot is released.
func TestClientDisconnectFreesWorker(t *testing.T) {
	s, ts := newTestServer(t, Config{Workers: 1, QueueLimit: 1})
	_, pngBytes := fixture(t, 128, 128)
	ctx, cancel := context.WithCancel(context.Background())
	req := newRequest(t, "POST", ts.URL+"/v1/upscale?patchSize=16", "image/png", pngBytes).WithContext(ctx)
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	waitFor(t, "the upscale to start", func() bool { return len(s.queue.slots) == 1 })
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("request succeeded although its context was cancelled")
	}
	waitFor(t, "the worker slot to be released", func() bool { return len(s.queue.slots) == 0 })
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	name string
	data jobStatus
}

func readEvents(t testing.TB, url string) []sseEvent {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("GET %s: Content-Type %q, want text/event-stream", url, ct)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return parseEvents(t, b)
}

// parseEvents splits a Server-Sent Events stream into its events.
func parseEvents(t testing.TB, b []byte) []sseEvent {
	t.Helper()
	var events []sseEvent
	for _, block := range strings.Split(strings.TrimSpace(string(b)), "\n\n") {
		var ev sseEvent
		for _, line := range strings.Split(block, "\n") {
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				ev.name = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				if err := json.Unmarshal([]byte(v), &ev.data); err != nil {
					t.Fatalf("event data %q: %v", v, err)
				}
			}
		}
		events = append(events, ev)
	}
	return events
}

func createJob(t testing.TB, ts *httptest.Server, query string, body []byte) string {
	t.Helper()
	resp, out := do(t, newRequest(t, "POST", ts.URL+"/v1/jobs"+query, "image/png", body))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/jobs: status %d, want 202: %s", resp.StatusCode, out)
	}
	var created struct{ ID string }
	if err := json.Unmarshal(out, &created); err != nil || created.ID == "" {
		t.Fatalf("POST /v1/jobs response %q has no id", out)
	}
	return created.ID
}

func TestJobLifecycle(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	img, pngBytes := fixture(t, 32, 32)
	want := native(t, img, &upscaler.Options{PatchSize: 16, AutoPadding: true}).Image()
	id := createJob(t, ts, "?patchSize=16&padding=auto", pngBytes)

	events := readEvents(t, ts.URL+"/v1/jobs/"+id+"/events")
	last := events[len(events)-1]
	if last.name != "done" || last.data.State != jobDone || last.data.Width != 64 {
		t.Fatalf("last event = %+v, want done with width 64", last)
	}
	for _, ev := range events[:len(events)-1] {
		if ev.name != "progress" || ev.data.Fraction < 0 || ev.data.Fraction > 1 {
			t.Errorf("event %+v, want progress with fraction in 0..1", ev)
		}
	}

	resp, body := do(t, newRequest(t, "GET", ts.URL+"/v1/jobs/"+id+"/result", "", nil))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("GET result: status %d type %q, want 200 image/png: %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	got, err := png.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if d := maxDiff(got, want); d != 0 {
		t.Errorf("job result differs from the in-process result by %d levels", d)
	}

	req := newRequest(t, "GET", ts.URL+"/v1/jobs/"+id+"/result", "", nil)
	req.Header.Set("Accept", "application/json")
	resp, body = do(t, req)
	if tt, err := message.UnmarshalJSON(body, nil); resp.StatusCode != 200 || err != nil || fmt.Sprint(tt.Shape) != "[64 64 3]" {
		t.Errorf("GET result as JSON: status %d, err %v, want a [64 64 3] tensor", resp.StatusCode, err)
	}

	resp, _ = do(t, newRequest(t, "GET", ts.URL+"/v1/jobs/nope/result", "", nil))
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET unknown job result: status %d, want 404", resp.StatusCode)
	}

	// Deleting a finished job drops it and its result.
	resp, _ = do(t, newRequest(t, "DELETE", ts.URL+"/v1/jobs/"+id, "", nil))
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE finished job: status %d, want 204", resp.StatusCode)
	}
	resp, _ = do(t, newRequest(t, "GET", ts.URL+"/v1/jobs/"+id+"/result", "", nil))
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET result after DELETE: status %d, want 404", resp.StatusCode)
	}
}

func TestJobRunningAndCancel(t *testing.T) {
	s, ts := newTestServer(t, Config{Workers: 1})
	_, pngBytes := fixture(t, 16, 16)
	// Hold the only worker so the job stays queued.
	if err := s.queue.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	id := createJob(t, ts, "", pngBytes)
	resp, body := do(t, newRequest(t, "GET", ts.URL+"/v1/jobs/"+id+"/result", "", nil))
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("GET result of a queued job: status %d, want 409: %s", resp.StatusCode, body)
	}
	resp, _ = do(t, newRequest(t, "DELETE", ts.URL+"/v1/jobs/"+id, "", nil))
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE job: status %d, want 204", resp.StatusCode)
	}
	events := readEvents(t, ts.URL+"/v1/jobs/"+id+"/events")
	if last := events[len(events)-1]; last.name != "error" || last.data.State != jobCanceled {
		t.Errorf("last event after DELETE = %+v, want error with state canceled", last)
	}
	resp, _ = do(t, newRequest(t, "GET", ts.URL+"/v1/jobs/"+id+"/result", "", nil))
	if resp.StatusCode != http.StatusGone {
		t.Errorf("GET result of a canceled job: status %d, want 410", resp.StatusCode)
	}
	s.queue.release()
}

func TestJobResultExpires(t *testing.T) {
	_, ts := newTestServer(t, Config{ResultTTL: 20 * time.Millisecond})
	_, pngBytes := fixture(t, 8, 8)
	id := createJob(t, ts, "", pngBytes)
	readEvents(t, ts.URL+"/v1/jobs/"+id+"/events")
	time.Sleep(50 * time.Millisecond)
	resp, body := do(t, newRequest(t, "GET", ts.URL+"/v1/jobs/"+id+"/result", "", nil))
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "expired") {
		t.Errorf("GET result after ResultTTL: status %d %s, want 404 mentioning expiry", resp.StatusCode, body)
	}
}

func TestMetrics(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	_, pngBytes := fixture(t, 8, 8)
	do(t, newRequest(t, "POST", ts.URL+"/v1/upscale", "image/png", pngBytes))
	do(t, newRequest(t, "POST", ts.URL+"/v1/upscale", "image/png", []byte("junk")))
	_, body := do(t, newRequest(t, "GET", ts.URL+"/metrics", "", nil))
	for _, want := range []string{
		`upscaler_http_requests_total{code="200",route="POST /v1/upscale"} 1`,
		`upscaler_http_requests_total{code="415",route="POST /v1/upscale"} 1`,
		`upscaler_http_request_duration_seconds_count{route="POST /v1/upscale"} 2`,
		`upscaler_output_pixels_total{model="default-model"} 256`,
		`upscaler_queue_length 0`,
		`upscaler_busy_workers 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("GET /metrics lacks %q", want)
		}
	}
}

func TestRunShutsDownGracefully(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Addr: "127.0.0.1:0", Grace: 5 * time.Second, Logger: testLogger(t),
			OnListen: func(a net.Addr) { addrc <- a.String() }})
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("Run returned before listening: %v", err)
	}
	resp, body := do(t, newRequest(t, "GET", "http://"+addr+"/v2/health/ready", "", nil))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v2/health/ready: status %d, want 200: %s", resp.StatusCode, body)
	}

	// Cancel while an upscale runs: it finishes within the grace period.
	_, pngBytes := fixture(t, 64, 64)
	result := make(chan int, 1)
	go func() {
		resp, err := http.Post("http://"+addr+"/v1/upscale?patchSize=16", "image/png", bytes.NewReader(pngBytes))
		if err != nil {
			result <- -1
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	// A job queued behind it, with its event stream open: the stream
	// follows the job to its end.
	resp, body = do(t, newRequest(t, "POST", "http://"+addr+"/v1/jobs?patchSize=16", "image/png", pngBytes))
	var created struct{ ID string }
	if err := json.Unmarshal(body, &created); resp.StatusCode != http.StatusAccepted || err != nil {
		t.Fatalf("POST /v1/jobs: status %d, want 202: %s", resp.StatusCode, body)
	}
	stream, err := http.Get("http://" + addr + "/v1/jobs/" + created.ID + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	time.Sleep(50 * time.Millisecond)
	cancel()
	streamed, err := io.ReadAll(stream.Body)
	if err != nil {
		t.Fatalf("read the event stream: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s of cancel")
	}
	if code := <-result; code != http.StatusOK {
		t.Errorf("upscale in flight at shutdown: status %d, want 200", code)
	}
	if events := parseEvents(t, streamed); len(events) == 0 || events[len(events)-1].name != "done" {
		t.Errorf("event stream of a job running at shutdown ended with %+v, want a done event", events)
	}
	if _, err := http.Get("http://" + addr + "/v2/health/live"); err == nil {
		t.Error("server still accepts connections after Run returned")
	}
}

func TestRunReportsListenError(t *testing.T) {
	err := Run(context.Background(), Config{Addr: "127.0.0.1:-1", Logger: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Errorf("Run on a bad address = %v, want a listen error", err)
	}
}

// v2Infer posts an inference request and decodes the response, binary or JSON.
func v2Infer(t testing.TB, url string, header []byte, raw []byte, accept string) (int, v2Response, []float32, string) {
	t.Helper()
	req := newRequest(t, "POST", url, "application/json", append(append([]byte{}, header...), raw...))
	if raw != nil {
		req.Header.Set(inferenceHeaderLength, fmt.Sprint(len(header)))
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, body := do(t, req)
	var out v2Response
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, out, nil, string(body)
	}
	if hl := resp.Header.Get(inferenceHeaderLength); hl != "" {
		var n int
		fmt.Sscan(hl, &n)
		if err := json.Unmarshal(body[:n], &out); err != nil {
			t.Fatalf("binary response header: %v", err)
		}
		data := body[n:]
		values := make([]float32, len(data)/4)
		for i := range values {
			values[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		return resp.StatusCode, out, values, ""
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("JSON response: %v", err)
	}
	return resp.StatusCode, out, out.Outputs[0].Data, ""
}

func TestInferenceProtocol(t *testing.T) {
	_, ts := newTestServer(t, Config{MaxPixels: 1000})
	img, _ := fixture(t, 5, 4)
	want := native(t, img, nil).Tensor
	var rgb []byte
	for y := 0; y < 4; y++ {
		for x := 0; x < 5; x++ {
			c := img.NRGBAAt(x, y)
			rgb = append(rgb, c.R, c.G, c.B)
		}
	}
	fp32 := make([]float32, len(rgb))
	rawFP32 := make([]byte, 4*len(rgb))
	nested := make([][][]int, 4)
	for i, v := range rgb {
		fp32[i] = float32(v)
		binary.LittleEndian.PutUint32(rawFP32[4*i:], math.Float32bits(float32(v)))
		y, x := i/15, (i%15)/3
		if len(nested[y]) <= x {
			nested[y] = append(nested[y], nil)
		}
		nested[y][x] = append(nested[y][x], int(v))
	}
	jsonHeader := func(datatype string, data any, size int, params string) []byte {
		in := map[string]any{"name": "input", "shape": []int{4, 5, 3}, "datatype": datatype}
		if data != nil {
			in["data"] = data
		}
		if size > 0 {
			in["parameters"] = map[string]int{"binary_data_size": size}
		}
		b, _ := json.Marshal(map[string]any{"id": "r1", "inputs": []any{in}})
		if params != "" {
			b = []byte(strings.Replace(string(b), `{"id"`, `{"parameters":`+params+`,"id"`, 1))
		}
		return b
	}
	url := ts.URL + "/v2/models/default-model/infer"

	tests := []struct {
		name   string
		header []byte
		raw    []byte
		accept string
		binary bool
		opts   *upscaler.Options
	}{
		{"json fp32", jsonHeader("FP32", fp32, 0, ""), nil, "", false, nil},
		{"json uint8 nested", jsonHeader("UINT8", nested, 0, ""), nil, "", false, nil},
		{"binary fp32 in", jsonHeader("FP32", nil, len(rawFP32), ""), rawFP32, "", false, nil},
		{"binary uint8 in and out", jsonHeader("UINT8", nil, len(rgb), `{"binary_data_output":true}`), rgb, "", true, nil},
		{"binary out by accept", jsonHeader("FP32", fp32, 0, ""), nil, "application/octet-stream", true, nil},
		{"patch parameters", jsonHeader("FP32", fp32, 0, `{"patch_size":4,"padding":1}`), nil, "", false, &upscaler.Options{PatchSize: 4, Padding: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, values, errText := v2Infer(t, url, tc.header, tc.raw, tc.accept)
			if code != http.StatusOK {
				t.Fatalf("infer: status %d, want 200: %s", code, errText)
			}
			if out.ModelName != "default-model" || out.ID != "r1" || len(out.Outputs) != 1 {
				t.Fatalf("infer response = %+v, want model default-model, id r1, one output", out)
			}
			o := out.Outputs[0]
			if o.Name != "output" || o.DataType != "FP32" || fmt.Sprint(o.Shape) != "[8 10 3]" {
				t.Errorf("output = %s %s %v, want output FP32 [8 10 3]", o.Name, o.DataType, o.Shape)
			}
			if isBinary := o.Parameters["binary_data_size"] != nil; isBinary != tc.binary {
				t.Errorf("binary output = %v, want %v", isBinary, tc.binary)
			}
			want := want
			if tc.opts != nil {
				want = native(t, img, tc.opts).Tensor
			}
			if len(values) != len(want.Data) {
				t.Fatalf("output has %d values, want %d", len(values), len(want.Data))
			}
			for i, v := range values {
				if math.Abs(float64(v-want.Data[i])) > 0.5 {
					t.Fatalf("output[%d] = %g, want %g", i, v, want.Data[i])
				}
			}
		})
	}

	errorTests := []struct {
		name   string
		header []byte
		raw    []byte
		want   int
	}{
		{"bad json", []byte(`{"inputs":`), nil, 400},
		{"no input", []byte(`{"inputs":[]}`), nil, 400},
		{"bad datatype", jsonHeader("INT64", fp32, 0, ""), nil, 400},
		{"short data", []byte(`{"inputs":[{"name":"input","shape":[4,5,3],"datatype":"FP32","data":[1,2,3]}]}`), nil, 400},
		{"grey shape", []byte(`{"inputs":[{"name":"input","shape":[4,5],"datatype":"FP32","data":[1]}]}`), nil, 400},
		{"too many pixels", []byte(`{"inputs":[{"name":"input","shape":[100,100,3],"datatype":"UINT8","data":[1]}]}`), nil, 413},
		{"binary size mismatch", jsonHeader("FP32", nil, len(rawFP32), ""), rawFP32[:8], 400},
		{"nan", []byte(`{"inputs":[{"name":"input","shape":[1,1,3],"datatype":"FP32","data":[1,2,-1]}]}`), nil, 400},
		{"bad padding", jsonHeader("FP32", fp32, 0, `{"padding":"wide"}`), nil, 400},
	}
	for _, tc := range errorTests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, _, errText := v2Infer(t, url, tc.header, tc.raw, "")
			if code != tc.want {
				t.Errorf("infer (%s): status %d, want %d: %s", tc.name, code, tc.want, errText)
			}
			if !strings.Contains(errText, `"error"`) {
				t.Errorf("infer (%s): body %q is not {\"error\": message}", tc.name, errText)
			}
		})
	}
}

func TestInferenceMetadata(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	tests := []struct {
		path     string
		want     int
		contains string
	}{
		{"/v2/health/live", 200, `"live":true`},
		{"/v2/health/ready", 200, `"ready":true`},
		{"/v2/models/default-model", 200, `"inputs":[{"name":"input","datatype":"FP32","shape":[-1,-1,3]}]`},
		{"/v2/models/esrgan-slim-4x", 200, `"scale":4`},
		{"/v2/models/esrgan-legacy-div2k-3x", 200, `"name":"esrgan-legacy-div2k-3x"`},
		{"/v2/models/default-model/ready", 200, `"ready":true`},
		{"/v2/models/esrgan-slim-4x/ready", 503, `"ready":false`},
		{"/v2/models/no-such-model", 404, `"error"`},
		{"/v2/models", 200, `"esrgan-thick-8x"`},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := do(t, newRequest(t, "GET", ts.URL+tc.path, "", nil))
			if resp.StatusCode != tc.want || !strings.Contains(string(body), tc.contains) {
				t.Errorf("GET %s = %d %s, want %d containing %s", tc.path, resp.StatusCode, body, tc.want, tc.contains)
			}
		})
	}
}

func TestWebPage(t *testing.T) {
	_, ts := newTestServer(t, Config{})
	plain := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer plain.CloseIdleConnections()

	tests := []struct {
		path, acceptEncoding string
		wantType, wantStart  string
		wantEncoding         string
	}{
		{"/", "", "text/html; charset=utf-8", "<!doctype html>", ""},
		{"/app.js", "", "text/javascript; charset=utf-8", "// The page's UI thread", ""},
		{"/worker.js", "", "text/javascript; charset=utf-8", "// The Web Worker", ""},
		{"/wasm_exec.js", "", "text/javascript; charset=utf-8", "// Copyright", ""},
		{"/upscaler.wasm", "", "application/wasm", "\x00asm", ""},
		{"/upscaler.wasm", "gzip, deflate", "application/wasm", "\x1f\x8b", "gzip"},
	}
	for _, tc := range tests {
		t.Run(tc.path+" "+tc.acceptEncoding, func(t *testing.T) {
			req := newRequest(t, "GET", ts.URL+tc.path, "", nil)
			if tc.acceptEncoding != "" {
				req.Header.Set("Accept-Encoding", tc.acceptEncoding)
			}
			resp, err := plain.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			head := make([]byte, len(tc.wantStart))
			io.ReadFull(resp.Body, head)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: status %d, want 200", tc.path, resp.StatusCode)
			}
			if got := resp.Header.Get("Content-Type"); got != tc.wantType {
				t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.wantType)
			}
			if got := resp.Header.Get("Content-Encoding"); got != tc.wantEncoding {
				t.Errorf("GET %s: Content-Encoding %q, want %q", tc.path, got, tc.wantEncoding)
			}
			if string(head) != tc.wantStart {
				t.Errorf("GET %s: body starts %q, want %q", tc.path, head, tc.wantStart)
			}
		})
	}
}

func TestModelNotCached(t *testing.T) {
	t.Setenv("UPSCALER_CACHE", t.TempDir())
	_, ts := newTestServer(t, Config{})
	_, small := fixture(t, 8, 8)
	resp, body := do(t, newRequest(t, "POST", ts.URL+"/v1/upscale?model=esrgan-slim&scale=2", "image/png", small))
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("POST /v1/upscale with an uncached model: status %d, want 503", resp.StatusCode)
	}
	want := "esrgan-slim-2x: model is not downloaded on this server; run upscaler models pull esrgan-slim there"
	if !strings.Contains(string(body), want) {
		t.Errorf("POST /v1/upscale with an uncached model: body %s, want it to contain %q", body, want)
	}
}
