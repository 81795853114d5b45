package pool

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/message"
	"github.com/upscaler-go/upscaler/models"
	"github.com/upscaler-go/upscaler/worker"
)

// Config configures New. The zero value runs one job at a time with the
// embedded default model.
type Config struct {
	// Model is the model to load; nil means models.Default(). It is
	// ignored when Upscaler is set.
	Model *models.Definition

	// Upscaler, when set, is the loaded model the jobs share. The pool
	// does not close it.
	Upscaler *upscaler.Upscaler

	// Workers is the number of jobs run at once; 0 means 1.
	Workers int

	// ThreadsPerJob is the number of goroutines each job's upscale uses
	// when the pool loads Model; 0 means GOMAXPROCS divided by Workers,
	// at least 1. An Upscaler passed in keeps its own setting.
	ThreadsPerJob int

	// QueueSize is the number of jobs that may wait for a worker; 0 means
	// 64. Submit blocks and TrySubmit fails when it is reached.
	QueueSize int

	// ProgressBuffer is the buffer size of each Handle's Progress channel;
	// 0 means 16.
	ProgressBuffer int

	// Limits bounds the requests Submit accepts; nil selects the defaults
	// of package message.
	Limits *message.Limits
}

// Pool runs jobs on goroutines that share one loaded model. Its methods
// are safe for concurrent use. No goroutine runs while the pool is idle,
// and none is left after Close returns.
type Pool struct {
	u     *upscaler.Upscaler
	ownsU bool
	cfg   Config
	q     *queue
	seq   uint64Counter
	wg    sync.WaitGroup // runner goroutines

	started atomic.Int64 // jobs that began to run, for tests

	mu      sync.Mutex
	runners int                  // guarded by mu
	running map[*Handle]struct{} // guarded by mu
}

// New loads the model of cfg, unless cfg.Upscaler is set, and returns a
// Pool.
func New(cfg Config) (*Pool, error) {
	cfg.Workers = max(cfg.Workers, 1)
	if cfg.ProgressBuffer <= 0 {
		cfg.ProgressBuffer = defaultProgressBuffer
	}
	p := &Pool{cfg: cfg, u: cfg.Upscaler, q: newQueue(cfg.QueueSize), running: map[*Handle]struct{}{}}
	if p.u == nil {
		threads := cfg.ThreadsPerJob
		if threads <= 0 {
			threads = max(runtime.GOMAXPROCS(0)/cfg.Workers, 1)
		}
		u, err := upscaler.New(upscaler.Config{Model: cfg.Model, Threads: threads})
		if err != nil {
			return nil, fmt.Errorf("pool: %w", err)
		}
		p.u, p.ownsU = u, true
	}
	return p, nil
}

// Upscaler returns the loaded model the jobs share.
func (p *Pool) Upscaler() *upscaler.Upscaler { return p.u }

// Submit queues req and returns its Handle. When QueueSize jobs are
// waiting it blocks until one leaves the queue or ctx ends. ctx also
// governs the job: when it ends, the job is canceled as by
// Handle.Cancel. Use context.WithoutCancel to let a job outlive ctx.
//
// req must pass message.Validate with Config.Limits, or Submit returns
// the *message.DecodeError. A request without an ID gets one from the
// pool. The request's tensor is read while the job runs, so the caller
// must not change it until the job ends. req.Model must be empty or name
// the pool's model, and req.Scale must be 0 or the model's scale. Other
// requests fail with an error of kind unknown_model.
func (p *Pool) Submit(ctx context.Context, req *message.Request) (*Handle, error) {
	return p.submit(ctx, req, true)
}

// TrySubmit is Submit that returns ErrQueueFull instead of blocking when
// the queue is full.
func (p *Pool) TrySubmit(ctx context.Context, req *message.Request) (*Handle, error) {
	return p.submit(ctx, req, false)
}

func (p *Pool) submit(ctx context.Context, req *message.Request, block bool) (*Handle, error) {
	req, err := prepare(req, p.cfg.Limits, &p.seq)
	if err != nil {
		return nil, err
	}
	h := newHandle(ctx, req, p.q, p.cfg.ProgressBuffer)
	if err := p.q.push(ctx, h, block); err != nil {
		h.finish(nil, err)
		return nil, err
	}

	// Start a runner if fewer than Workers are running. A runner exits
	// when it finds the queue empty, so an idle pool has no goroutines.
	p.mu.Lock()
	if p.runners < p.cfg.Workers {
		p.runners++
		p.wg.Add(1)
		go p.runner()
	}
	p.mu.Unlock()
	return h, nil
}

// runner runs queued jobs until the queue is empty.
func (p *Pool) runner() {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		h := p.q.tryPop()
		if h == nil {
			p.runners--
			p.mu.Unlock()
			return
		}
		p.running[h] = struct{}{}
		p.mu.Unlock()

		p.run(h)

		p.mu.Lock()
		delete(p.running, h)
		p.mu.Unlock()
	}
}

// run runs one job and records its outcome.
func (p *Pool) run(h *Handle) {
	if h.ctx.Err() != nil {
		h.finish(nil, h.canceledError())
		return
	}
	p.started.Add(1)
	if err := p.checkModel(h.req); err != nil {
		h.finish(nil, err)
		return
	}
	res, err := worker.Run(h.ctx, p.u, h.req, h.sendProgress)
	if err != nil && h.ctx.Err() != nil {
		err = h.canceledError()
	}
	if err != nil {
		h.finish(nil, err)
		return
	}
	h.finish(res, nil)
}

// checkModel returns an error of kind unknown_model when req requests
// another model than the pool's.
func (p *Pool) checkModel(req *message.Request) error {
	if req.Model == "" {
		return nil
	}
	def := p.u.Definition()
	name, scale, err := models.ParseName(req.Model)
	if err == nil && name == def.Name && (scale == 0 || scale == def.Scale) {
		return nil
	}
	return &message.Error{ID: req.ID, Kind: message.KindUnknownModel,
		Message: fmt.Sprintf("this pool runs model %s, not %q; leave Model empty or start a pool for that model", def.String(), req.Model)}
}

// Close stops accepting jobs and waits until the queued and running jobs
// have finished. If ctx ends first, Close cancels the jobs left, waits
// for the running ones to stop (within one model layer) and returns
// ctx.Err(). It closes the model if the pool loaded it. After Close
// returns, no goroutine of the pool is left. Close is safe to call more
// than once.
func (p *Pool) Close(ctx context.Context) error {
	p.q.close()
	idle := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(idle)
	}()
	var err error
	select {
	case <-idle:
	case <-ctx.Done():
		err = ctx.Err()
		for _, h := range p.q.drain() {
			h.cancel(errPoolClosed)
			h.finish(nil, h.canceledError())
		}
		p.mu.Lock()
		for h := range p.running {
			h.cancel(errPoolClosed)
		}
		p.mu.Unlock()
		<-idle
	}
	if p.ownsU {
		if cerr := p.u.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("pool: close model: %w", cerr)
		}
	}
	return err
}
