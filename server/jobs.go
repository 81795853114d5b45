package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/upscaler-go/upscaler"
)

// Job states, as the status and events endpoints report them.
const (
	jobRunning  = "running"
	jobDone     = "done"
	jobFailed   = "error"
	jobCanceled = "canceled"
)

// job is one asynchronous upscale.
type job struct {
	id     string
	req    *upscaleRequest
	cancel context.CancelFunc

	mu       sync.Mutex
	state    string            // guarded by mu
	progress upscaler.Progress // guarded by mu; the latest patch
	seq      int               // guarded by mu; counts changes
	changed  chan struct{}     // guarded by mu; closed and replaced on each change
	result   *upscaler.Result  // guarded by mu
	err      error             // guarded by mu
	finished time.Time         // guarded by mu
}

// jobSnapshot is a consistent copy of a job's state.
type jobSnapshot struct {
	state    string
	progress upscaler.Progress
	seq      int
	changed  chan struct{}
	result   *upscaler.Result
	err      error
}

func (j *job) snapshot() jobSnapshot {
	j.mu.Lock()
	defer j.mu.Unlock()
	return jobSnapshot{j.state, j.progress, j.seq, j.changed, j.result, j.err}
}

// update applies f to the job under its lock and wakes its watchers.
func (j *job) update(f func()) {
	j.mu.Lock()
	f()
	j.seq++
	close(j.changed)
	j.changed = make(chan struct{})
	j.mu.Unlock()
}

// maxFinishedJobs bounds the finished jobs kept for their results: adding a
// job beyond it drops the oldest finished one before its ResultTTL. Each
// result is a float32 tensor, up to 12 bytes per output pixel.
const maxFinishedJobs = 64

// jobStore holds jobs by ID until ResultTTL after they finish.
type jobStore struct {
	ttl time.Duration

	mu   sync.Mutex
	jobs map[string]*job // guarded by mu
}

func newJobStore(ttl time.Duration) *jobStore {
	return &jobStore{ttl: ttl, jobs: make(map[string]*job)}
}

func (st *jobStore) add(j *job) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.expireLocked(time.Now())
	st.evictLocked()
	st.jobs[j.id] = j
}

// evictLocked drops the oldest finished jobs while more than
// maxFinishedJobs-1 are kept. The caller holds st.mu.
func (st *jobStore) evictLocked() {
	for {
		var oldest *job
		var oldestTime time.Time
		finished := 0
		for _, j := range st.jobs {
			j.mu.Lock()
			end := j.finished
			j.mu.Unlock()
			if end.IsZero() {
				continue
			}
			finished++
			if oldest == nil || end.Before(oldestTime) {
				oldest, oldestTime = j, end
			}
		}
		if finished < maxFinishedJobs {
			return
		}
		delete(st.jobs, oldest.id)
	}
}

// removeFinished drops j, and with it its result, when j has finished. It
// reports whether j was dropped.
func (st *jobStore) removeFinished(j *job) bool {
	j.mu.Lock()
	finished := !j.finished.IsZero()
	j.mu.Unlock()
	if !finished {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.jobs, j.id)
	return true
}

// get returns the job with the ID, or nil when it is unknown or expired.
func (st *jobStore) get(id string) *job {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.expireLocked(time.Now())
	return st.jobs[id]
}

// expireLocked drops jobs finished more than ttl before now. The caller
// holds st.mu.
func (st *jobStore) expireLocked(now time.Time) {
	for id, j := range st.jobs {
		j.mu.Lock()
		expired := !j.finished.IsZero() && now.Sub(j.finished) > st.ttl
		j.mu.Unlock()
		if expired {
			delete(st.jobs, id)
		}
	}
}

func (s *Server) handleJobCreate(w http.ResponseWriter, r *http.Request) {
	if s.rejectWhenFull(w, r) {
		return
	}
	req, err := s.parseUpscaleRequest(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	select {
	case <-s.stopping:
		s.writeError(w, r, errStopping)
		return
	default:
	}
	// Check again after reading the body, rather than accept a job that
	// would fail later. A job admitted here can still find the queue full
	// when it starts, and then ends in the error state.
	if s.rejectWhenFull(w, r) {
		return
	}
	ctx, cancel := context.WithTimeout(s.base, s.cfg.RequestTimeout)
	j := &job{id: newID(), req: req, cancel: cancel, state: jobRunning, changed: make(chan struct{})}
	s.jobs.add(j)
	s.jobsWG.Add(1)
	go s.runJob(ctx, j)
	writeJSON(w, http.StatusAccepted, map[string]string{"id": j.id})
}

// runJob runs j on the worker slot handleJobCreate acquired.
func (s *Server) runJob(ctx context.Context, j *job) {
	defer s.jobsWG.Done()
	defer j.cancel()
	start := time.Now()
	res, err := func() (*upscaler.Result, error) {
		engine, err := s.engine(ctx, j.req.model)
		if err != nil {
			return nil, err
		}
		if err := s.queue.acquire(ctx); err != nil {
			return nil, err
		}
		defer s.queue.release()
		opts := j.req.opts
		opts.Progress = func(p upscaler.Progress) {
			j.update(func() { j.progress = p })
			if s.afterProgress != nil {
				s.afterProgress(p)
			}
		}
		return engine.Upscale(ctx, j.req.input, &opts)
	}()
	j.update(func() {
		j.finished = time.Now()
		j.req.input = nil
		switch {
		case err == nil:
			j.state, j.result = jobDone, res
		case errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded):
			j.state, j.err = jobCanceled, err
		default:
			j.state, j.err = jobFailed, err
		}
	})
	attrs := []any{"id", j.id, "model", j.req.model.inferenceName(), "duration", time.Since(start)}
	if err != nil {
		s.log.Warn("job failed", append(attrs, "err", err)...)
		return
	}
	s.metrics.pixels.WithLabelValues(j.req.model.inferenceName()).Add(float64(res.Tensor.Shape[0] * res.Tensor.Shape[1]))
	s.log.Info("job done", append(attrs, "out_size", fmt.Sprintf("%dx%d", res.Tensor.Shape[1], res.Tensor.Shape[0]))...)
}

func (s *Server) jobFor(w http.ResponseWriter, r *http.Request) *job {
	id := r.PathValue("id")
	j := s.jobs.get(id)
	if j == nil {
		infoFrom(r.Context()).err = fmt.Errorf("job %q not found", id)
		writeJSON(w, http.StatusNotFound, map[string]string{
			"error": fmt.Sprintf("job %q not found: it never existed or its result expired after %s", id, s.cfg.ResultTTL)})
		return nil
	}
	infoFrom(r.Context()).model = j.req.model.inferenceName()
	return j
}

// jobStatus is the JSON form of a job's state.
type jobStatus struct {
	ID       string  `json:"id"`
	State    string  `json:"state"`
	Fraction float64 `json:"fraction"`
	Row      int     `json:"row"`
	Col      int     `json:"col"`
	Width    int     `json:"width,omitempty"`
	Height   int     `json:"height,omitempty"`
	Error    string  `json:"error,omitempty"`
}

func (j *job) status(snap jobSnapshot) jobStatus {
	st := jobStatus{ID: j.id, State: snap.state, Fraction: snap.progress.Fraction, Row: snap.progress.Row, Col: snap.progress.Col}
	if snap.result != nil {
		st.Fraction = 1
		st.Height, st.Width = snap.result.Tensor.Shape[0], snap.result.Tensor.Shape[1]
	}
	if snap.err != nil {
		st.Error = snap.err.Error()
	}
	return st
}

func (s *Server) handleJobStatus(w http.ResponseWriter, r *http.Request) {
	if j := s.jobFor(w, r); j != nil {
		writeJSON(w, http.StatusOK, j.status(j.snapshot()))
	}
}

// handleJobEvents streams the job's progress as Server-Sent Events: a
// "progress" event per change while it runs, then one "done" or "error"
// event, after which the stream ends. A reader that falls behind gets the
// latest state, not every change it missed.
func (s *Server) handleJobEvents(w http.ResponseWriter, r *http.Request) {
	j := s.jobFor(w, r)
	if j == nil {
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)

	lastSeq := -1
	for {
		snap := j.snapshot()
		if snap.seq != lastSeq {
			lastSeq = snap.seq
			event := "progress"
			switch snap.state {
			case jobDone:
				event = "done"
			case jobFailed, jobCanceled:
				event = "error"
			}
			b, _ := json.Marshal(j.status(snap))
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			if event != "progress" {
				return
			}
		}
		select {
		case <-snap.changed:
		case <-r.Context().Done():
			return
		}
	}
}

func (s *Server) handleJobResult(w http.ResponseWriter, r *http.Request) {
	j := s.jobFor(w, r)
	if j == nil {
		return
	}
	snap := j.snapshot()
	switch snap.state {
	case jobRunning:
		infoFrom(r.Context()).err = errors.New("job still running")
		writeJSON(w, http.StatusConflict, map[string]string{
			"error": fmt.Sprintf("job %q is still running (%.0f%% done): wait for its done event", j.id, 100*snap.progress.Fraction)})
	case jobDone:
		req := *j.req
		if acceptsJSON(r) {
			req.tensorOut = true
		}
		s.writeResult(w, r, &req, snap.result)
	case jobCanceled:
		infoFrom(r.Context()).err = snap.err
		writeJSON(w, http.StatusGone, map[string]string{"error": fmt.Sprintf("job %q was canceled", j.id)})
	default:
		s.writeError(w, r, snap.err)
	}
}

func (s *Server) handleJobCancel(w http.ResponseWriter, r *http.Request) {
	j := s.jobFor(w, r)
	if j == nil {
		return
	}
	// A running job is cancelled and kept until ResultTTL, so that its
	// state shows the cancellation. A finished job is dropped with its
	// result.
	if !s.jobs.removeFinished(j) {
		j.cancel()
	}
	w.WriteHeader(http.StatusNoContent)
}
