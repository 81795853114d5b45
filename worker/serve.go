package worker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/upscaler-go/upscaler/message"
	"github.com/upscaler-go/upscaler/models"
)

// Config configures Serve. The zero value serves one request at a time,
// with the default limits and the official model catalog, and logs nothing.
type Config struct {
	// Logger receives the worker's operational events: model loads, bad
	// frames, failed requests. Nil discards them. A worker process logs to
	// stderr, because stdout carries the frames.
	Logger *slog.Logger

	// Threads is the number of goroutines each upscale uses; 0 means
	// GOMAXPROCS.
	Threads int

	// Concurrency is the number of requests upscaled at once; 0 means 1.
	// Requests beyond it wait in arrival order.
	Concurrency int

	// Limits bounds the frames Serve accepts; nil selects the defaults of
	// package message.
	Limits *message.Limits

	// Models resolves a request's model name and scale to a definition.
	// Nil means models.Lookup, the official catalog and the model cache.
	// The empty name is passed as "default-model".
	Models func(name string, scale int) (models.Definition, error)
}

// Serve reads message frames from r, upscales each Request and writes the
// replies to w, until r ends or ctx is done. It is the main loop of a
// worker process, with r and w its stdin and stdout.
//
// Each request gets zero or more Progress messages (one per patch when
// PatchSize is set) and then one Result or one Error. Each model is loaded
// on its first request and kept for later ones. A Cancel message stops the
// request it names, and Serve replies with an Error of kind canceled. A
// request that is still waiting for its turn never starts.
//
// A bad frame is answered with an Error and Serve goes on reading. A frame
// after which the stream cannot be read further (bad magic, lengths over
// the limits, a stream ending inside a frame) is answered with an Error
// when possible, the requests in flight are stopped with an Error each, and
// Serve returns the read error. At the end of r, Serve finishes the
// requests in flight, writes their replies and returns nil. When ctx ends,
// Serve stops the requests in flight and returns ctx.Err(). A failed write
// to w stops everything and Serve returns the write error.
//
// Serve reads r on a goroutine of its own. If Serve returns while that
// goroutine is blocked in r.Read (after ctx ends or a write fails), the
// goroutine ends when the read returns; close r to end it.
//
// Frames are written from one goroutine at a time; Serve never writes to w
// after it returns.
func Serve(ctx context.Context, r io.Reader, w io.Writer, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conc := max(cfg.Concurrency, 1)
	sctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	s := &server{
		ctx:     sctx,
		stop:    stop,
		log:     log,
		out:     message.NewWriter(w),
		cache:   newModelCache(&cfg, log),
		conc:    conc,
		waiting: make(chan struct{}, conc+maxWaiting),
		reqs:    map[string]context.CancelCauseFunc{},
	}
	defer s.cache.close()
	log.Info("worker: serving", "concurrency", conc, "threads", cfg.Threads)

	// Step 1: read frames on their own goroutine, so that ctx can end Serve
	// while a read blocks.
	frames := make(chan frame)
	done := make(chan struct{})
	defer close(done)
	go func() {
		// Serve owns r to its end, so it may read ahead of a frame.
		rd := message.NewReader(bufio.NewReaderSize(r, 64<<10), cfg.Limits)
		for {
			m, err := rd.ReadMessage()
			select {
			case frames <- frame{m, err}:
			case <-done:
				return
			}
			var de *message.DecodeError
			if err != nil && !(errors.As(err, &de) && !de.Fatal) {
				return
			}
		}
	}()

	// Step 2: dispatch messages until the stream ends.
	for {
		var f frame
		select {
		case f = <-frames:
		case <-sctx.Done():
			return s.shutdown(nil)
		}
		var de *message.DecodeError
		switch {
		case f.err == io.EOF:
			s.wg.Wait()
			log.Info("worker: input ended; stopping")
			return s.writeErr()
		case errors.As(f.err, &de):
			log.Warn("worker: rejected frame", "id", de.ID, "kind", de.Kind, "fatal", de.Fatal, "err", de)
			s.send(de.Reply())
			if de.Fatal {
				return s.shutdown(fmt.Errorf("worker: read message: %w", f.err))
			}
			continue
		case f.err != nil:
			log.Warn("worker: input failed", "err", f.err)
			return s.shutdown(fmt.Errorf("worker: read message: %w", f.err))
		}
		switch m := f.msg.(type) {
		case *message.Request:
			if !s.admit(m) {
				return s.shutdown(nil)
			}
		case *message.Cancel:
			s.cancel(m.ID)
		default:
			log.Warn("worker: rejected message of wrong type", "id", m.RequestID(), "type", fmt.Sprintf("%T", m))
			s.send(errorf(m.RequestID(), message.KindInvalid,
				"a worker accepts request and cancel messages, not %T", m))
		}
	}
}

// maxWaiting is the number of requests Serve reads ahead of those running.
// Past it Serve stops reading until a request finishes, so a client that
// sends faster than the worker upscales is slowed down by the stream
// rather than filling the worker's memory. A Cancel sent behind those
// requests is read when one of them finishes.
const maxWaiting = 16

// frame is one result of Reader.ReadMessage.
type frame struct {
	msg message.Message
	err error
}

// errStream is the cause of requests stopped because the input failed.
var errStream = errors.New("input stream failed")

// errCancelMessage is the cause of requests stopped by a Cancel message.
var errCancelMessage = errors.New("request canceled by a cancel message")

// server is the state of one Serve call.
type server struct {
	ctx   context.Context // ends when Serve must stop
	stop  context.CancelCauseFunc
	log   *slog.Logger
	cache *modelCache

	conc    int           // requests upscaled at once
	waiting chan struct{} // semaphore: requests admitted, running or not
	wg      sync.WaitGroup

	mu     sync.Mutex
	reqs   map[string]context.CancelCauseFunc // guarded by mu; requests in flight by ID
	queue  []chan struct{}                    // guarded by mu; start signals of waiting requests, in arrival order
	active int                                // guarded by mu; requests upscaling

	outMu  sync.Mutex
	out    *message.Writer // guarded by outMu
	outErr error           // guarded by outMu
}

// send writes m, unless an earlier write failed. A failed write stops
// Serve.
func (s *server) send(m message.Message) {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	if s.outErr != nil {
		return
	}
	if err := s.out.WriteMessage(m); err != nil {
		s.outErr = fmt.Errorf("worker: write %T for request %q: %w", m, m.RequestID(), err)
		s.log.Error("worker: output failed; stopping", "err", err)
		s.stop(s.outErr)
	}
}

// writeErr returns the first write error, or nil.
func (s *server) writeErr() error {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	return s.outErr
}

// shutdown stops every request in flight with cause, waits for them and
// returns the error Serve returns: readErr, else the write error, else the
// error of Serve's context.
func (s *server) shutdown(readErr error) error {
	cause := readErr
	if cause == nil {
		cause = context.Cause(s.ctx)
	}
	if readErr != nil {
		cause = fmt.Errorf("%w: %w", errStream, readErr)
	}
	s.mu.Lock()
	for _, cancel := range s.reqs {
		cancel(cause)
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.log.Info("worker: stopped", "cause", cause)
	if readErr != nil {
		return readErr
	}
	if err := s.writeErr(); err != nil {
		return err
	}
	return context.Cause(s.ctx)
}

// admit registers req and starts its goroutine, once fewer than
// Concurrency+maxWaiting requests are in flight. It returns false when
// Serve must stop first.
func (s *server) admit(req *message.Request) bool {
	select {
	case s.waiting <- struct{}{}:
	case <-s.ctx.Done():
		return false
	}
	s.mu.Lock()
	if _, dup := s.reqs[req.ID]; dup {
		s.mu.Unlock()
		<-s.waiting
		s.log.Warn("worker: rejected duplicate request ID", "id", req.ID)
		s.send(errorf(req.ID, message.KindInvalid,
			"request ID %q is already in flight; give each open request its own ID", req.ID))
		return true
	}
	rctx, cancel := context.WithCancelCause(s.ctx)
	s.reqs[req.ID] = cancel
	start := make(chan struct{})
	s.queue = append(s.queue, start)
	s.dispatchLocked()
	s.mu.Unlock()

	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.waiting }()
		defer func() {
			s.mu.Lock()
			delete(s.reqs, req.ID)
			s.mu.Unlock()
			cancel(nil)
		}()
		s.send(s.handle(rctx, req, start))
	}()
	return true
}

// dispatchLocked starts waiting requests, oldest first, while fewer than
// conc are upscaling. s.mu must be held.
func (s *server) dispatchLocked() {
	for s.active < s.conc && len(s.queue) > 0 {
		close(s.queue[0])
		s.queue = s.queue[1:]
		s.active++
	}
}

// wait blocks until the request with the given start signal may upscale,
// and returns false, with the request out of the queue, if ctx ends first.
func (s *server) wait(ctx context.Context, start chan struct{}) bool {
	select {
	case <-start:
		return true
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.queue, start); i >= 0 {
		s.queue = slices.Delete(s.queue, i, i+1)
		return false
	}
	// Started at the same moment: give the slot back.
	s.active--
	s.dispatchLocked()
	return false
}

// done gives back the upscaling slot of a started request.
func (s *server) done() {
	s.mu.Lock()
	s.active--
	s.dispatchLocked()
	s.mu.Unlock()
}

// cancel stops the request with the given ID, if it is in flight.
func (s *server) cancel(id string) {
	s.mu.Lock()
	cancel, ok := s.reqs[id]
	s.mu.Unlock()
	if !ok {
		s.log.Debug("worker: cancel for a request not in flight", "id", id)
		return
	}
	s.log.Info("worker: canceling request", "id", id)
	cancel(errCancelMessage)
}

// handle waits for a free slot, upscales req and returns the reply.
func (s *server) handle(ctx context.Context, req *message.Request, start chan struct{}) message.Message {
	if !s.wait(ctx, start) {
		return s.stopped(ctx, req.ID)
	}
	defer s.done()
	if ctx.Err() != nil {
		return s.stopped(ctx, req.ID)
	}

	began := time.Now()
	e, merr := s.cache.acquire(ctx, req.ID, req.Model, req.Scale)
	if merr != nil {
		s.log.Info("worker: request failed", "id", req.ID, "model", req.Model, "kind", merr.Kind, "err", merr.Message)
		return merr
	}
	defer s.cache.release(e)
	res, err := Run(ctx, e.u, req, func(p *message.Progress) { s.send(p) })
	if err != nil {
		if ctx.Err() != nil {
			return s.stopped(ctx, req.ID)
		}
		merr := &message.Error{ID: req.ID, Kind: message.KindInternal, Message: err.Error()}
		errors.As(err, &merr)
		s.log.Info("worker: request failed", "id", req.ID, "model", e.key, "kind", merr.Kind, "err", merr.Message)
		return merr
	}
	s.log.Debug("worker: request done", "id", req.ID, "model", e.key, "shape", req.Tensor.Shape,
		"duration", time.Since(began))
	return res
}

// stopped returns the Error reply of a request whose context ended.
func (s *server) stopped(ctx context.Context, id string) *message.Error {
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, errCancelMessage):
		return errorf(id, message.KindCanceled, "%v", cause)
	case errors.Is(cause, errStream):
		return errorf(id, message.KindInternal, "request stopped because the worker's %v", cause)
	}
	return errorf(id, message.KindCanceled, "request stopped because the worker is shutting down: %v", cause)
}
