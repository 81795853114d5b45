// Package loadtest drives an upscaler service with more concurrent clients
// than it has workers while probing its liveness endpoint. The service's
// load tests use it, both in process and against the built command.
package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"sync"
	"time"
)

// Config describes one load run.
type Config struct {
	// BaseURL is the service's root, such as "http://127.0.0.1:8080".
	BaseURL string
	// Body is the PNG image each client posts to /v1/upscale.
	Body []byte
	// Requests is the number of upscale requests sent in all; Clients is
	// the number of clients sending them at once.
	Requests, Clients int
	// Check validates the image of a 200 response, which Run has decoded
	// from PNG.
	Check func(got image.Image) error
	// Backoff is how long a client waits after a 429 before its next
	// request, as a client honouring Retry-After would (scaled down).
	Backoff time.Duration
	// ReferenceURL, when set, is the root of a second, idle instance of the
	// service on the same machine. Each liveness probe then goes to both
	// at the same moment, so that a delay the machine imposes on every
	// process (another job, the hypervisor taking a core) can be
	// distinguished from one the load imposes on the service.
	ReferenceURL string
	// ProbeEvery is the pause between two liveness probes.
	ProbeEvery time.Duration
	// SlowProbe is the latency above which a probe counts as slow.
	SlowProbe time.Duration
}

// Report is the outcome of one load run.
type Report struct {
	OK, Busy   int           // responses with status 200 and 429
	Errors     []error       // requests that got neither, or a bad image
	Elapsed    time.Duration // from the first request to the last response
	Probes     int           // liveness probes sent
	SlowProbes []string      // "15:04:05.000 123ms (reference 4ms)" for each probe over SlowProbe
	WorstProbe time.Duration
	// WorstReference is the reference instance's slowest probe, and
	// WorstExcess the most a probe of the service took longer than the
	// reference's probe sent with it. Both are zero without ReferenceURL.
	WorstReference, WorstExcess time.Duration
}

func (r Report) String() string {
	s := fmt.Sprintf("%d requests in %s: %d got 200, %d got 429, %d failed; %d liveness probes, %d slow, worst %s",
		r.OK+r.Busy+len(r.Errors), r.Elapsed.Round(time.Millisecond), r.OK, r.Busy, len(r.Errors),
		r.Probes, len(r.SlowProbes), r.WorstProbe.Round(time.Microsecond))
	if r.WorstReference > 0 {
		s += fmt.Sprintf(" (idle reference's worst %s, most beyond the reference %s)",
			r.WorstReference.Round(time.Microsecond), r.WorstExcess.Round(time.Microsecond))
	}
	return s
}

// Run sends cfg.Requests upscale requests from cfg.Clients clients and
// probes /v2/health/live until the last response arrives or ctx ends.
func Run(ctx context.Context, cfg Config) Report {
	transport := &http.Transport{MaxIdleConnsPerHost: cfg.Clients + 1}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}

	var (
		mu  sync.Mutex
		rep Report
	)
	fail := func(err error) {
		mu.Lock()
		rep.Errors = append(rep.Errors, err)
		mu.Unlock()
	}

	stop := make(chan struct{})
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		for {
			start := time.Now()
			var refLatency time.Duration
			var refErr error
			var ref sync.WaitGroup
			if cfg.ReferenceURL != "" {
				ref.Go(func() {
					refErr = get(ctx, client, cfg.ReferenceURL+"/v2/health/live")
					refLatency = time.Since(start)
				})
			}
			err := get(ctx, client, cfg.BaseURL+"/v2/health/live")
			d := time.Since(start)
			ref.Wait()
			mu.Lock()
			rep.Probes++
			rep.WorstProbe = max(rep.WorstProbe, d)
			slow := start.Format("15:04:05.000") + " " + d.Round(time.Microsecond).String()
			if cfg.ReferenceURL != "" {
				rep.WorstReference = max(rep.WorstReference, refLatency)
				rep.WorstExcess = max(rep.WorstExcess, d-refLatency)
				slow += " (reference " + refLatency.Round(time.Microsecond).String() + ")"
			}
			if d > cfg.SlowProbe {
				rep.SlowProbes = append(rep.SlowProbes, slow)
			}
			mu.Unlock()
			for _, err := range []error{err, refErr} {
				if err != nil {
					fail(err)
				}
			}
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-time.After(cfg.ProbeEvery):
			}
		}
	}()

	jobs := make(chan struct{}, cfg.Requests)
	for range cfg.Requests {
		jobs <- struct{}{}
	}
	close(jobs)
	start := time.Now()
	var wg sync.WaitGroup
	for range cfg.Clients {
		wg.Go(func() {
			for range jobs {
				if ctx.Err() != nil {
					fail(ctx.Err())
					continue
				}
				status, body, err := post(ctx, client, cfg.BaseURL+"/v1/upscale", cfg.Body)
				switch {
				case err != nil:
					fail(err)
				case status == http.StatusTooManyRequests:
					mu.Lock()
					rep.Busy++
					mu.Unlock()
					time.Sleep(cfg.Backoff)
				case status != http.StatusOK:
					fail(fmt.Errorf("POST /v1/upscale: status %d, want 200 or 429: %.200s", status, body))
				default:
					got, err := png.Decode(bytes.NewReader(body))
					if err == nil {
						err = cfg.Check(got)
					}
					if err != nil {
						fail(fmt.Errorf("POST /v1/upscale: %w", err))
						continue
					}
					mu.Lock()
					rep.OK++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	rep.Elapsed = time.Since(start)
	close(stop)
	<-probed
	return rep
}

func get(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d, want 200", url, resp.StatusCode)
	}
	return nil
}

// post sends body and returns the status and response body. A 429 without a
// Retry-After header is reported as an error.
func post(ctx context.Context, client *http.Client, url string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "image/png")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("read the response to POST %s: %w", url, err)
	}
	if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
		return 0, nil, fmt.Errorf("POST %s: 429 without Retry-After", url)
	}
	return resp.StatusCode, respBody, nil
}
