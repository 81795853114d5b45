package pool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/upscaler-go/upscaler/message"
)

// Errors of Submit and TrySubmit.
var (
	// ErrQueueFull is returned by TrySubmit when the queue holds
	// QueueSize jobs.
	ErrQueueFull = errors.New("pool: queue full")

	// ErrClosed is returned by Submit and TrySubmit after Close.
	ErrClosed = errors.New("pool: closed")
)

// errCanceled is the cause of a job stopped by Handle.Cancel.
var errCanceled = errors.New("canceled by Handle.Cancel")

// errPoolClosed is the cause of jobs stopped when Close runs out of time.
var errPoolClosed = errors.New("pool closed before the job finished")

// Default sizes.
const (
	defaultQueueSize      = 64
	defaultProgressBuffer = 16
)

// Handle follows one submitted job. Its methods are safe for concurrent use.
type Handle struct {
	req     *message.Request // the job, with the ID the pool gave it when it had none
	ctx     context.Context  // ends when the job is canceled
	cancel  context.CancelCauseFunc
	stopCtx func() bool // stops the context.AfterFunc that dequeues a canceled job
	q       *queue

	progress chan *message.Progress
	done     chan struct{} // closed when res or err is set

	mu       sync.Mutex
	finished bool // guarded by mu; progress is closed
	res      *message.Result
	err      error
}

// newHandle returns the Handle of req, whose context is a child of ctx.
func newHandle(ctx context.Context, req *message.Request, q *queue, buffer int) *Handle {
	h := &Handle{req: req, q: q, progress: make(chan *message.Progress, buffer), done: make(chan struct{})}
	h.ctx, h.cancel = context.WithCancelCause(ctx)
	h.stopCtx = context.AfterFunc(h.ctx, func() {
		if q.remove(h) {
			h.finish(nil, h.canceledError())
		}
	})
	return h
}

// ID returns the job's request ID: the one submitted, or the one the pool
// gave a request submitted without an ID.
func (h *Handle) ID() string { return h.req.ID }

// Progress returns the channel of the job's progress messages, one per
// finished patch. It is closed when the job ends, before Wait returns. Its
// buffer holds ProgressBuffer messages. When the buffer is full, a message
// without a patch is dropped. A message carrying a patch (the request set
// ProgressPatches) waits until the caller reads it or the job is canceled,
// so a caller that requests patches must read them.
func (h *Handle) Progress() <-chan *message.Progress { return h.progress }

// Wait blocks until the job ends or ctx ends, and returns the job's
// result. The error is a *message.Error when the job failed or was
// canceled, or ctx's error when ctx ended first. The end of ctx does not
// cancel the job.
func (h *Handle) Wait(ctx context.Context) (*message.Result, error) {
	select {
	case <-h.done:
		return h.res, h.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Done returns a channel that is closed when the job has ended.
func (h *Handle) Done() <-chan struct{} { return h.done }

// Cancel stops the job. A queued job is removed from the queue and never
// runs. A running job in process stops within one model layer. In a worker
// process it stops when the worker replies to the cancel message, or when
// the process is killed after ProcessConfig.Grace. Wait then returns an error
// of kind canceled, unless the job finished first. Cancel returns at once;
// a queued job has left the queue by then.
func (h *Handle) Cancel() {
	h.cancel(errCanceled)
	if h.q.remove(h) {
		h.finish(nil, h.canceledError())
	}
}

// canceledError returns the error of a job whose context ended.
func (h *Handle) canceledError() *message.Error {
	return &message.Error{ID: h.req.ID, Kind: message.KindCanceled, Message: fmt.Sprintf("job %s", context.Cause(h.ctx))}
}

// sendProgress delivers p unless the job has finished, as the Progress
// documentation describes.
func (h *Handle) sendProgress(p *message.Progress) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.finished {
		return
	}
	p.ID = h.req.ID
	if p.Patch == nil {
		select {
		case h.progress <- p:
		default:
		}
		return
	}
	select {
	case h.progress <- p:
	case <-h.ctx.Done():
	}
}

// finish records the outcome of the job once; later calls do nothing.
func (h *Handle) finish(res *message.Result, err error) {
	h.mu.Lock()
	if h.finished {
		h.mu.Unlock()
		return
	}
	h.finished = true
	if res != nil {
		res.ID = h.req.ID
	}
	h.res, h.err = res, err
	close(h.progress)
	h.mu.Unlock()
	h.stopCtx()
	h.cancel(nil)
	close(h.done)
}

// queue is the FIFO of jobs waiting for a worker, shared by both pools.
type queue struct {
	size int

	mu      sync.Mutex
	jobs    []*Handle     // guarded by mu
	closed  bool          // guarded by mu
	changed chan struct{} // guarded by mu; closed and replaced on every change
}

func newQueue(size int) *queue {
	if size <= 0 {
		size = defaultQueueSize
	}
	return &queue{size: size, changed: make(chan struct{})}
}

// broadcastLocked wakes everyone waiting for a change. q.mu must be held.
func (q *queue) broadcastLocked() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// push appends h. With block set it waits for space until ctx ends;
// otherwise it returns ErrQueueFull at once.
func (q *queue) push(ctx context.Context, h *Handle, block bool) error {
	for {
		q.mu.Lock()
		switch {
		case q.closed:
			q.mu.Unlock()
			return ErrClosed
		case len(q.jobs) < q.size:
			q.jobs = append(q.jobs, h)
			q.broadcastLocked()
			q.mu.Unlock()
			return nil
		case !block:
			q.mu.Unlock()
			return fmt.Errorf("%w: %d jobs are waiting; retry later or raise QueueSize", ErrQueueFull, q.size)
		}
		changed := q.changed
		q.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("pool: wait for queue space: %w", ctx.Err())
		}
	}
}

// pop removes and returns the oldest job. It waits for one until stop1 or
// stop2 is closed, returning nil, or until the queue is closed and empty,
// returning nil and closed = true. A nil stop channel never stops it.
func (q *queue) pop(stop1, stop2 <-chan struct{}) (h *Handle, closed bool) {
	for {
		q.mu.Lock()
		if len(q.jobs) > 0 {
			h := q.jobs[0]
			q.jobs = q.jobs[1:]
			q.broadcastLocked()
			q.mu.Unlock()
			return h, false
		}
		if q.closed {
			q.mu.Unlock()
			return nil, true
		}
		changed := q.changed
		q.mu.Unlock()
		select {
		case <-changed:
		case <-stop1:
			return nil, false
		case <-stop2:
			return nil, false
		}
	}
}

// tryPop returns the oldest job, or nil when the queue is empty.
func (q *queue) tryPop() *Handle {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.jobs) == 0 {
		return nil
	}
	h := q.jobs[0]
	q.jobs = q.jobs[1:]
	q.broadcastLocked()
	return h
}

// remove takes h out of the queue and reports whether it was there.
func (q *queue) remove(h *Handle) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := slices.Index(q.jobs, h)
	if i < 0 {
		return false
	}
	q.jobs = slices.Delete(q.jobs, i, i+1)
	q.broadcastLocked()
	return true
}

// close rejects later pushes and wakes every waiter.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.broadcastLocked()
	q.mu.Unlock()
}

// drain removes and returns every queued job.
func (q *queue) drain() []*Handle {
	q.mu.Lock()
	defer q.mu.Unlock()
	jobs := q.jobs
	q.jobs = nil
	q.broadcastLocked()
	return jobs
}

// prepare validates req against lim and returns the request the pool
// runs: req itself, or a copy with an ID when req has none.
func prepare(req *message.Request, lim *message.Limits, seq *uint64Counter) (*message.Request, error) {
	if req != nil && req.ID == "" {
		c := *req
		c.ID = fmt.Sprintf("job-%d", seq.next())
		req = &c
	}
	if err := message.Validate(req, lim); err != nil {
		return nil, fmt.Errorf("pool: submit: %w", err)
	}
	return req, nil
}

// uint64Counter hands out increasing numbers.
type uint64Counter struct {
	mu sync.Mutex
	n  uint64
}

func (c *uint64Counter) next() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n
}

// load returns the last number handed out.
func (c *uint64Counter) load() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
