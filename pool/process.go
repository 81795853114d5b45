package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/upscaler-go/upscaler/message"
)

// ProcessConfig configures NewProcess.
type ProcessConfig struct {
	// Command is the worker program and its arguments, for example
	// {"/usr/local/bin/upscaler", "worker"}. The program must serve
	// frames on stdin and stdout as worker.Serve does. Required.
	Command []string

	// Workers is the number of worker processes, each running one job at
	// a time; 0 means 1.
	Workers int

	// MemoryLimit, when above 0, is the most resident memory in bytes a
	// worker process may use. The pool reads each process's VmRSS from
	// /proc/PID/status every 100 ms and kills a process over the limit
	// with SIGKILL; its job is retried once like that of a crashed
	// process. It also sets GOMEMLIMIT to three quarters of the limit in
	// the process's environment, unless Env sets it, so a Go worker
	// collects garbage harder before it reaches the limit. Linux only:
	// NewProcess fails where /proc is missing.
	MemoryLimit int64

	// Grace is how long a worker process has to reply to a cancel message,
	// or to exit after its input closes, before it is killed; 0 means 5 s.
	Grace time.Duration

	// Env lists extra environment variables, "NAME=value", added to the
	// pool's own environment for each worker process.
	Env []string

	// Logger receives the pool's operational events (process starts,
	// exits, kills, retries) and each line the worker processes write to
	// stderr. Nil discards them.
	Logger *slog.Logger

	// QueueSize is the number of jobs that may wait for a worker; 0 means
	// 64. Submit blocks and TrySubmit fails when it is reached.
	QueueSize int

	// ProgressBuffer is the buffer size of each Handle's Progress channel;
	// 0 means 16.
	ProgressBuffer int

	// Limits bounds the requests Submit accepts and the frames read from
	// the workers; nil selects the defaults of package message.
	Limits *message.Limits
}

// defaultGrace is the Grace of a zero ProcessConfig.
const defaultGrace = 5 * time.Second

// ProcessPool runs jobs in worker processes and supervises them. Its
// methods are safe for concurrent use. Each worker process runs one job at
// a time; a job goes to the first idle worker.
//
// A process that exits or is killed while running a job (a crash, a
// signal, the memory limit, an unreadable frame) is replaced by a new one
// and its job is sent once more, to that new process. If that attempt
// fails too, the job fails with an error of kind worker_crashed whose
// message describes how both processes ended. A process that exits while idle is restarted.
type ProcessPool struct {
	cfg     ProcessConfig
	log     *slog.Logger
	q       *queue
	seq     uint64Counter // IDs for requests submitted without one
	wire    uint64Counter // IDs of requests on the wire
	wg      sync.WaitGroup
	closing chan struct{}
	once    sync.Once

	mu      sync.Mutex
	running map[*Handle]struct{} // guarded by mu
}

// procStarted, when set by a test, is called with every process the pool
// starts.
var procStarted func(*proc)

// NewProcess starts cfg.Workers worker processes and returns a
// ProcessPool. It fails if a process cannot be started.
func NewProcess(cfg ProcessConfig) (*ProcessPool, error) {
	if len(cfg.Command) == 0 || cfg.Command[0] == "" {
		return nil, errors.New("pool: ProcessConfig.Command is empty; set the worker program, for example {\"upscaler\", \"worker\"}")
	}
	if cfg.MemoryLimit > 0 {
		if _, err := residentBytes(os.Getpid()); err != nil {
			return nil, fmt.Errorf("pool: MemoryLimit needs the VmRSS of /proc/PID/status (Linux); leave it 0 here: %w", err)
		}
	}
	cfg.Workers = max(cfg.Workers, 1)
	if cfg.Grace <= 0 {
		cfg.Grace = defaultGrace
	}
	if cfg.ProgressBuffer <= 0 {
		cfg.ProgressBuffer = defaultProgressBuffer
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pp := &ProcessPool{cfg: cfg, log: log, q: newQueue(cfg.QueueSize), closing: make(chan struct{}), running: map[*Handle]struct{}{}}

	procs := make([]*proc, 0, cfg.Workers)
	for range cfg.Workers {
		p, err := pp.start()
		if err != nil {
			for _, p := range procs {
				p.stop(cfg.Grace)
			}
			return nil, err
		}
		procs = append(procs, p)
	}
	for _, p := range procs {
		pp.wg.Add(1)
		go pp.slot(p)
	}
	return pp, nil
}

func (pp *ProcessPool) start() (*proc, error) {
	p, err := startProc(&pp.cfg, pp.log)
	if err == nil && procStarted != nil {
		procStarted(p)
	}
	return p, err
}

// Submit queues req and returns its Handle, as Pool.Submit does. The
// worker processes resolve req.Model themselves, so any model they can
// load may be requested. The request is encoded when a worker takes it.
func (pp *ProcessPool) Submit(ctx context.Context, req *message.Request) (*Handle, error) {
	return pp.submit(ctx, req, true)
}

// TrySubmit is Submit that returns ErrQueueFull instead of blocking when
// the queue is full.
func (pp *ProcessPool) TrySubmit(ctx context.Context, req *message.Request) (*Handle, error) {
	return pp.submit(ctx, req, false)
}

func (pp *ProcessPool) submit(ctx context.Context, req *message.Request, block bool) (*Handle, error) {
	req, err := prepare(req, pp.cfg.Limits, &pp.seq)
	if err != nil {
		return nil, err
	}
	h := newHandle(ctx, req, pp.q, pp.cfg.ProgressBuffer)
	if err := pp.q.push(ctx, h, block); err != nil {
		h.finish(nil, err)
		return nil, err
	}
	return h, nil
}

// slot keeps one worker process running and feeds it jobs until the pool
// closes and the queue is empty, then stops the process.
func (pp *ProcessPool) slot(p *proc) {
	defer pp.wg.Done()
	defer func() {
		if p != nil {
			p.stop(pp.cfg.Grace)
		}
	}()
	backoff := 100 * time.Millisecond
	for {
		var exited <-chan struct{}
		if p != nil {
			exited = p.exited
		}
		h, closed := pp.q.pop(exited, nil)
		if closed {
			return
		}
		if h != nil {
			pp.track(h, true)
			p = pp.runJob(p, h)
			pp.track(h, false)
			backoff = 100 * time.Millisecond
		} else {
			// The process exited while idle. Restart it, waiting longer each
			// time one dies within a second of its start.
			pp.log.Warn("pool: worker process exited while idle; restarting it", "pid", p.pid, "status", p.exitText())
			quick := time.Since(p.started) < time.Second
			p = nil
			if quick {
				if !pp.sleep(backoff) {
					return
				}
				backoff = min(2*backoff, 5*time.Second)
			}
		}
		if p == nil && !pp.isClosing() {
			var err error
			if p, err = pp.start(); err != nil {
				pp.log.Error("pool: cannot restart worker process; trying again with the next job", "err", err)
			}
		}
	}
}

// isClosing reports whether Close has been called.
func (pp *ProcessPool) isClosing() bool {
	select {
	case <-pp.closing:
		return true
	default:
		return false
	}
}

// sleep waits for d and returns true, or returns false when the pool is
// closing.
func (pp *ProcessPool) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-pp.closing:
		return false
	}
}

func (pp *ProcessPool) track(h *Handle, running bool) {
	pp.mu.Lock()
	if running {
		pp.running[h] = struct{}{}
	} else {
		delete(pp.running, h)
	}
	pp.mu.Unlock()
}

// outcome is the end state of one attempt at a job.
type outcome int

const (
	finished outcome = iota // the job has its result or error
	crashed                 // the process ended during the job
)

// runJob runs h on p, or on a new process when p is nil, retrying once on
// a new process after a crash. It returns the process to keep, or nil
// when the last one ended.
func (pp *ProcessPool) runJob(p *proc, h *Handle) *proc {
	var first string // how the first process ended
	for attempt := 1; ; attempt++ {
		if h.ctx.Err() != nil {
			h.finish(nil, h.canceledError())
			return p
		}
		if p == nil {
			var err error
			if p, err = pp.start(); err != nil {
				h.finish(nil, &message.Error{ID: h.req.ID, Kind: message.KindWorkerCrashed, Message: err.Error()})
				return nil
			}
		}
		if pp.attempt(p, h) == finished {
			select {
			case <-p.exited:
				return nil // killed after a cancel
			default:
				return p
			}
		}

		// The process ended during the job.
		text := fmt.Sprintf("worker process %d %s", p.pid, p.exitText())
		p = nil
		if attempt == 1 {
			pp.log.Warn("pool: worker process ended during a job; retrying the job on a new process",
				"id", h.req.ID, "status", text)
			first = text
			continue
		}
		pp.log.Error("pool: job failed twice", "id", h.req.ID, "status", text)
		h.finish(nil, &message.Error{ID: h.req.ID, Kind: message.KindWorkerCrashed,
			Message: fmt.Sprintf("%s during the job; the job was retried once, and %s too", first, text)})
		return nil
	}
}

// attempt sends h to p and waits for its reply, the process's end or the
// job's cancellation.
func (pp *ProcessPool) attempt(p *proc, h *Handle) outcome {
	wireID := strconv.FormatUint(pp.wire.next(), 10)
	defer p.end()

	// Send the request from a goroutine, so that a cancel is noticed while
	// a large request is being written. The write ends when the process
	// reads the frame or dies.
	written := make(chan error, 1)
	go func() { written <- p.begin(h, wireID) }()

	canceled := h.ctx.Done()
	var grace <-chan time.Time
	for {
		select {
		case err := <-written:
			written = nil
			if err != nil {
				pp.log.Warn("pool: sending a job to a worker process failed", "id", h.req.ID, "pid", p.pid, "err", err)
			}

		case m := <-p.replies:
			if id := m.RequestID(); id != wireID && id != "" {
				continue
			}
			switch m := m.(type) {
			case *message.Result:
				h.finish(m, nil)
			case *message.Error:
				if h.ctx.Err() != nil && m.Kind == message.KindCanceled {
					h.finish(nil, h.canceledError())
				} else {
					e := *m
					e.ID = h.req.ID
					h.finish(nil, &e)
				}
			}
			return finished

		case <-p.exited:
			if h.ctx.Err() != nil {
				h.finish(nil, h.canceledError())
				return finished
			}
			return crashed

		case <-canceled:
			canceled = nil
			go p.write(&message.Cancel{ID: wireID})
			t := time.NewTimer(pp.cfg.Grace)
			defer t.Stop()
			grace = t.C

		case <-grace:
			p.kill(fmt.Sprintf("did not answer a cancel message within %v", pp.cfg.Grace))
			<-p.exited
			h.finish(nil, h.canceledError())
			return finished
		}
	}
}

// Close stops accepting jobs, waits until the queued and running jobs have
// finished, then closes the worker processes' input and waits for them to
// exit, killing any still running after Grace. If ctx ends first, Close
// cancels the jobs left (running ones as Handle.Cancel does) and returns
// ctx.Err() once every process has exited. After Close returns, no worker
// process and no goroutine of the pool is left. Close is safe to call
// more than once.
func (pp *ProcessPool) Close(ctx context.Context) error {
	pp.once.Do(func() { close(pp.closing) })
	pp.q.close()
	idle := make(chan struct{})
	go func() {
		pp.wg.Wait()
		close(idle)
	}()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
	}
	for _, h := range pp.q.drain() {
		h.cancel(errPoolClosed)
		h.finish(nil, h.canceledError())
	}
	pp.mu.Lock()
	for h := range pp.running {
		h.cancel(errPoolClosed)
	}
	pp.mu.Unlock()
	<-idle
	return ctx.Err()
}
