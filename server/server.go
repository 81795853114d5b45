// Package server implements the upscaler HTTP service. It serves a REST API
// for images and jobs, the Open Inference Protocol (KServe v2 REST) for
// tensors, and Prometheus metrics. Its web page upscales in a Web Worker,
// either in the browser through WebAssembly or on the server.
//
// Run serves until its context is cancelled; New builds the same handler for
// tests and for embedding in another server. docs/server.md lists the
// endpoints with examples.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/pool"
)

// Config configures the service. Zero fields take the defaults named on each.
type Config struct {
	// Addr is the TCP address to listen on. Default "127.0.0.1:8080".
	Addr string
	// Workers is the number of upscale calls that run at once. Default 1.
	// Each call itself uses Threads goroutines.
	Workers int
	// QueueLimit is the number of requests that may wait for a worker.
	// A request arriving when Workers calls run and QueueLimit wait gets
	// 429 Too Many Requests with a Retry-After header. Default 16;
	// a negative value means no waiting at all.
	QueueLimit int
	// WorkerMode selects where upscales run: WorkerInProcess ("inproc",
	// the default) on goroutines of the server, or WorkerProcess
	// ("process") in Workers supervised worker processes.
	WorkerMode string
	// WorkerCommand is the worker program and its arguments for
	// WorkerProcess; it must serve frames on stdin and stdout as
	// worker.Serve does. Default: this executable with the argument
	// "worker".
	WorkerCommand []string
	// WorkerEnv lists extra environment variables, "NAME=value", for the
	// worker processes.
	WorkerEnv []string
	// WorkerMemoryLimit, when above 0, is the resident memory in bytes at
	// which a worker process is killed. Its request is then retried once on
	// a new process.
	WorkerMemoryLimit int64
	// Threads is the number of goroutines one upscale call uses. Default
	// GOMAXPROCS divided by Workers, at least 1, so that busy workers
	// together use about one goroutine per processor.
	Threads int
	// MaxBodyBytes bounds a request body. Default 32 MiB.
	MaxBodyBytes int64
	// MaxPixels bounds an input's width × height, checked from the image
	// header or tensor shape before the pixels are decoded. Default 4
	// megapixels.
	MaxPixels int64
	// RequestTimeout bounds one synchronous upscale, waiting in the queue
	// included, and one job. Default 2 minutes.
	RequestTimeout time.Duration
	// ResultTTL is how long a finished job and its result are kept.
	// Default 10 minutes.
	ResultTTL time.Duration
	// Grace is how long Run lets in-flight work finish after its context is
	// cancelled before cancelling it. Default 30 seconds.
	Grace time.Duration
	// Preload lists models to load at start-up, as catalog names with an
	// optional scale ("esrgan-slim:4x") or Open Inference Protocol names
	// ("esrgan-slim-4x"). The ready endpoint reports ready once they are
	// loaded. Default ["default-model"]. Other models load on first use.
	Preload []string
	// Logger receives one line per request and every error. Nil means
	// slog.Default().
	Logger *slog.Logger
	// OnListen, when set, is called with the listening address before Run
	// starts serving. It is meant for tests and for callers that listen on
	// port 0.
	OnListen func(net.Addr)
}

// Defaults of Config.
const (
	DefaultAddr           = "127.0.0.1:8080"
	DefaultWorkers        = 1
	DefaultQueueLimit     = 16
	DefaultMaxBodyBytes   = 32 << 20
	DefaultMaxPixels      = 4 << 20
	DefaultRequestTimeout = 2 * time.Minute
	DefaultResultTTL      = 10 * time.Minute
	DefaultGrace          = 30 * time.Second
	DefaultModelName      = "default-model"
)

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.QueueLimit == 0 {
		c.QueueLimit = DefaultQueueLimit
	} else if c.QueueLimit < 0 {
		c.QueueLimit = 0
	}
	if c.WorkerMode == "" {
		c.WorkerMode = WorkerInProcess
	}
	if c.Threads <= 0 {
		c.Threads = max(1, runtime.GOMAXPROCS(0)/c.Workers)
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxPixels <= 0 {
		c.MaxPixels = DefaultMaxPixels
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.ResultTTL <= 0 {
		c.ResultTTL = DefaultResultTTL
	}
	if c.Grace <= 0 {
		c.Grace = DefaultGrace
	}
	if c.Preload == nil {
		c.Preload = []string{DefaultModelName}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Server is the upscaler service. Its handler is safe for concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	models  *modelCache
	procs   *pool.ProcessPool // nil unless WorkerMode is WorkerProcess
	queue   *queue
	jobs    *jobStore
	metrics *metrics
	handler http.Handler

	// base is the parent of every job's context; cancelBase cancels the
	// jobs still running when the grace period ends.
	base       context.Context
	cancelBase context.CancelFunc
	// stopping is closed when shutdown begins: readiness turns false and
	// event streams end.
	stopping chan struct{}
	stopOnce sync.Once
	// jobsWG counts running job goroutines.
	jobsWG sync.WaitGroup
	// handlers counts HTTP handlers running, so that Run returns only after
	// the last one.
	handlers sync.WaitGroup

	// afterProgress, when set, runs after each job progress update is
	// recorded. Tests set it before the job acquires its worker slot.
	afterProgress func(upscaler.Progress)
}

// New returns a Server for cfg that does not listen yet: use Handler with
// any http.Server, and Close when done. It does not load models; Run does,
// and so does the first request for each model. With WorkerProcess it
// starts the worker processes.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	var procs *pool.ProcessPool
	switch cfg.WorkerMode {
	case WorkerInProcess:
	case WorkerProcess:
		var err error
		if procs, err = newProcessPool(cfg); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("server: worker mode %q is not %q or %q", cfg.WorkerMode, WorkerInProcess, WorkerProcess)
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		procs:    procs,
		stopping: make(chan struct{}),
	}
	s.base, s.cancelBase = context.WithCancel(context.Background())
	s.metrics = newMetrics()
	s.queue = newQueue(cfg.Workers, cfg.QueueLimit, s.metrics)
	s.models = newModelCache(cfg.Threads, s.log)
	s.jobs = newJobStore(cfg.ResultTTL)
	s.handler = s.routes()
	return s, nil
}

// Handler returns the HTTP handler serving every endpoint.
func (s *Server) Handler() http.Handler { return s.handler }

// Registry returns the Prometheus registry holding the service's metrics.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.registry }

// Preload loads the models of Config.Preload. With WorkerProcess the worker
// processes load models themselves, and Preload only checks the names.
func (s *Server) Preload(ctx context.Context) error {
	if s.procs != nil {
		for _, name := range s.cfg.Preload {
			if _, err := resolveModel(name, 0); err != nil {
				return fmt.Errorf("server: preload model %q: %w", name, err)
			}
		}
		return nil
	}
	for _, name := range s.cfg.Preload {
		if _, err := s.models.get(ctx, name); err != nil {
			return fmt.Errorf("server: preload model %q: %w", name, err)
		}
	}
	return nil
}

// Ready reports whether the preloaded models are loaded and the server is
// not shutting down.
func (s *Server) Ready() bool {
	select {
	case <-s.stopping:
		return false
	default:
	}
	if s.procs != nil {
		return true
	}
	for _, name := range s.cfg.Preload {
		if !s.models.loaded(name) {
			return false
		}
	}
	return true
}

// beginShutdown makes readiness false and ends event streams. Idempotent.
func (s *Server) beginShutdown() {
	s.stopOnce.Do(func() { close(s.stopping) })
}

// Close cancels running jobs, waits for them to return and releases the
// models. It does not wait for in-flight HTTP requests; Run does that.
func (s *Server) Close() error {
	s.beginShutdown()
	s.cancelBase()
	s.jobsWG.Wait()
	var poolErr error
	if s.procs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Grace)
		poolErr = s.procs.Close(ctx)
		cancel()
	}
	return errors.Join(poolErr, s.models.close())
}

// Run listens on cfg.Addr and serves until ctx is cancelled. It then stops
// accepting connections, lets in-flight requests and jobs finish for up to
// cfg.Grace, cancels whatever still runs, and returns nil. It returns an
// error when it cannot listen or a preloaded model fails to load.
func Run(ctx context.Context, cfg Config) error {
	s, err := New(cfg)
	if err != nil {
		return err
	}
	cfg = s.cfg
	if err := s.Preload(ctx); err != nil {
		s.Close()
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		s.Close()
		return fmt.Errorf("server: listen on %s: %w", cfg.Addr, err)
	}
	if cfg.OnListen != nil {
		cfg.OnListen(ln.Addr())
	}
	return s.serve(ctx, ln)
}

func (s *Server) serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		// Request contexts derive from base, so cancelling it at the end
		// of the grace period cancels every upscale still running.
		BaseContext: func(net.Listener) context.Context { return s.base },
	}
	s.log.Info("server: listening", "addr", ln.Addr().String(), "workers", s.cfg.Workers,
		"queue_limit", s.cfg.QueueLimit, "max_pixels", s.cfg.MaxPixels, "max_body_bytes", s.cfg.MaxBodyBytes)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		s.Close()
		return fmt.Errorf("server: serve: %w", err)
	case <-ctx.Done():
	}

	// Stop accepting, let requests and jobs finish within the grace period,
	// then cancel what is left.
	s.log.Info("server: shutting down", "grace", s.cfg.Grace)
	s.beginShutdown()
	graceCtx, cancel := context.WithTimeout(context.Background(), s.cfg.Grace)
	defer cancel()
	jobsDone := make(chan struct{})
	go func() { s.jobsWG.Wait(); close(jobsDone) }()
	shutdownErr := srv.Shutdown(graceCtx)
	select {
	case <-jobsDone:
	case <-graceCtx.Done():
	}
	if shutdownErr != nil || graceCtx.Err() != nil {
		s.log.Warn("server: grace period over, cancelling in-flight work", "grace", s.cfg.Grace)
	}
	s.cancelBase()
	srv.Close()
	<-served
	s.handlers.Wait()
	if err := s.Close(); err != nil {
		s.log.Error("server: release models", "err", err)
	}
	s.log.Info("server: stopped")
	return nil
}

// errStopping is returned to requests that arrive during shutdown.
var errStopping = errors.New("server is shutting down")
