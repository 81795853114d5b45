package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/models"
)

// Engine runs one upscale call. Progress is reported through
// opts.Progress and the call stops when ctx is cancelled.
// *upscaler.Upscaler implements it.
type Engine interface {
	Upscale(ctx context.Context, input any, opts *upscaler.Options) (*upscaler.Result, error)
}

var _ Engine = (*upscaler.Upscaler)(nil)

// errUnknownModel is wrapped by modelCache.get for a name that is in
// neither naming scheme.
var errUnknownModel = errors.New("unknown model")

// unknownModelError is an error message that already states that the model
// is unknown. It wraps errUnknownModel without repeating those words.
type unknownModelError string

func (e unknownModelError) Error() string { return string(e) }
func (e unknownModelError) Unwrap() error { return errUnknownModel }

// modelRef names one model at one scale.
type modelRef struct {
	family string
	scale  int
}

// inferenceName returns the Open Inference Protocol name of r: the catalog
// name with "/" replaced by "-" and the scale appended, as in
// "esrgan-legacy-div2k-4x". The embedded default model is "default-model".
func (r modelRef) inferenceName() string {
	if r.family == DefaultModelName {
		return DefaultModelName
	}
	return strings.ReplaceAll(r.family, "/", "-") + "-" + strconv.Itoa(r.scale) + "x"
}

// catalogNames maps every Open Inference Protocol name to its model.
// "default-model-2x" is an alias of "default-model".
var catalogNames = func() map[string]modelRef {
	m := make(map[string]modelRef)
	for _, f := range models.Families() {
		for _, scale := range f.Scales() {
			r := modelRef{f.Name, scale}
			m[r.inferenceName()] = r
			m[strings.ReplaceAll(f.Name, "/", "-")+"-"+strconv.Itoa(scale)+"x"] = r
		}
	}
	return m
}()

// inferenceNames returns the Open Inference Protocol names of every catalog
// model, sorted.
func inferenceNames() []string {
	seen := make(map[string]bool)
	var names []string
	for _, r := range catalogNames {
		n := r.inferenceName()
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// resolveModel turns a model name and an optional scale into a modelRef.
// name is a catalog name, optionally with ":4x", or an Open Inference
// Protocol name such as "esrgan-slim-4x". scale 0 means the name's scale or
// the family's default.
func resolveModel(name string, scale int) (modelRef, error) {
	if name == "" {
		name = DefaultModelName
	}
	if r, ok := catalogNames[name]; ok {
		if scale != 0 && scale != r.scale {
			return modelRef{}, fmt.Errorf("%w: model %q is %dx, but scale=%d was requested", errUnknownModel, name, r.scale, scale)
		}
		return r, nil
	}
	def, err := models.Lookup(name, scale)
	if err != nil {
		return modelRef{}, unknownModelError(strings.TrimPrefix(err.Error(), "models: ") + " (GET /v2/models lists the names)")
	}
	return modelRef{def.Name, def.Scale}, nil
}

// modelCache loads each model once, on first use, and keeps it.
type modelCache struct {
	threads int
	log     *slog.Logger

	mu      sync.Mutex
	entries map[modelRef]*modelEntry // guarded by mu
	closed  bool                     // guarded by mu
}

type modelEntry struct {
	ready chan struct{} // closed when loading ends
	u     *upscaler.Upscaler
	err   error
}

func newModelCache(threads int, log *slog.Logger) *modelCache {
	return &modelCache{threads: threads, log: log, entries: make(map[modelRef]*modelEntry)}
}

// get returns the loaded model for name (see resolveModel), loading it on
// first use. A failed load is not cached, so a later call tries again (after
// `upscaler models pull`, for instance).
func (c *modelCache) get(ctx context.Context, name string) (*upscaler.Upscaler, error) {
	ref, err := resolveModel(name, 0)
	if err != nil {
		return nil, err
	}
	return c.getRef(ctx, ref)
}

func (c *modelCache) getRef(ctx context.Context, ref modelRef) (*upscaler.Upscaler, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errStopping
	}
	e, ok := c.entries[ref]
	if !ok {
		e = &modelEntry{ready: make(chan struct{})}
		c.entries[ref] = e
		go c.load(ref, e)
	}
	c.mu.Unlock()

	select {
	case <-e.ready:
		return e.u, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *modelCache) load(ref modelRef, e *modelEntry) {
	defer close(e.ready)
	def, err := models.Lookup(ref.family, ref.scale)
	if err == nil {
		e.u, err = upscaler.New(upscaler.Config{Model: &def, Threads: c.threads, Logger: c.log})
	}
	switch {
	case errors.Is(err, models.ErrNotCached):
		e.err = fmt.Errorf("%s: %w on this server; run upscaler models pull %s there", ref.inferenceName(), models.ErrNotCached, ref.family)
	case err != nil:
		e.err = fmt.Errorf("load model %s: %w", ref.inferenceName(), err)
	}
	if err != nil {
		c.log.Error("server: load model", "model", ref.inferenceName(), "err", err)
		c.mu.Lock()
		delete(c.entries, ref)
		c.mu.Unlock()
		return
	}
	c.log.Info("server: model loaded", "model", ref.inferenceName(), "params", e.u.Model().Params)
}

// loaded reports whether the model name refers to is loaded.
func (c *modelCache) loaded(name string) bool {
	ref, err := resolveModel(name, 0)
	if err != nil {
		return false
	}
	c.mu.Lock()
	e, ok := c.entries[ref]
	c.mu.Unlock()
	if !ok {
		return false
	}
	select {
	case <-e.ready:
		return e.err == nil
	default:
		return false
	}
}

// close waits for loads in progress and closes every loaded model.
func (c *modelCache) close() error {
	c.mu.Lock()
	c.closed = true
	entries := c.entries
	c.entries = make(map[modelRef]*modelEntry)
	c.mu.Unlock()
	var errs []error
	for _, e := range entries {
		<-e.ready
		if e.u != nil {
			errs = append(errs, e.u.Close())
		}
	}
	return errors.Join(errs...)
}

// errBusy is returned by queue.acquire when the queue is full.
var errBusy = errors.New("server busy: all workers are busy and the queue is full, retry later")

// queue bounds the upscale calls: at most workers run at once, and at most
// limit more wait for a slot.
type queue struct {
	slots   chan struct{}
	limit   int
	metrics *metrics

	mu      sync.Mutex
	waiting int // guarded by mu
}

func newQueue(workers, limit int, m *metrics) *queue {
	return &queue{slots: make(chan struct{}, workers), limit: limit, metrics: m}
}

// acquire waits for a worker slot. It returns errBusy at once when limit
// requests already wait, and ctx.Err() when ctx ends first. A nil error
// must be followed by release.
func (q *queue) acquire(ctx context.Context) error {
	select {
	case q.slots <- struct{}{}:
		q.metrics.busy.Inc()
		return nil
	default:
	}
	q.mu.Lock()
	if q.waiting >= q.limit {
		q.mu.Unlock()
		q.metrics.rejected.Inc()
		return errBusy
	}
	q.waiting++
	q.metrics.queued.Set(float64(q.waiting))
	q.mu.Unlock()

	defer func() {
		q.mu.Lock()
		q.waiting--
		q.metrics.queued.Set(float64(q.waiting))
		q.mu.Unlock()
	}()
	select {
	case q.slots <- struct{}{}:
		q.metrics.busy.Inc()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// full reports whether a new request would be rejected now.
func (q *queue) full() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.slots) == cap(q.slots) && q.waiting >= q.limit
}

func (q *queue) release() {
	<-q.slots
	q.metrics.busy.Dec()
}

// retryAfterSeconds estimates how long a rejected client should wait.
// NOTE: a fixed guess; the service does not measure call durations for it.
func (q *queue) retryAfterSeconds() int { return 1 + q.limit/cap(q.slots) }
