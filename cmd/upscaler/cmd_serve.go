package main

import (
	"context"
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/upscaler-go/upscaler/server"
)

func newServeCommand(s *streams) *cobra.Command {
	cfg := server.Config{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the upscaling HTTP service",
		Long: `Run the upscaling HTTP service: a synchronous upscale endpoint, asynchronous
jobs with progress events, the Open Inference Protocol (KServe v2) endpoints,
Prometheus metrics and a web page. It runs until SIGINT or SIGTERM, then stops
accepting connections, lets the work in flight finish for up to --grace,
and exits with status 0. Logs go to standard error.`,
		Example: "  upscaler serve --addr 127.0.0.1:8080 --workers 2 --preload default-model,esrgan-slim:4x",
		Args:    cobra.NoArgs,
		RunE: runE(func(ctx context.Context, args []string) error {
			return runServe(ctx, cfg, s)
		}),
	}
	f := cmd.Flags()
	f.SortFlags = false
	f.StringVar(&cfg.Addr, "addr", server.DefaultAddr, "TCP address to listen on, host:port")
	f.IntVar(&cfg.Workers, "workers", server.DefaultWorkers, "upscale calls that run at once")
	f.IntVar(&cfg.QueueLimit, "queue-limit", server.DefaultQueueLimit, "requests that may wait for a worker before 429 Too Many Requests; -1 for none")
	f.StringVar(&cfg.WorkerMode, "worker-mode", server.WorkerInProcess, `where upscales run: "inproc" (goroutines of the server) or "process" (supervised worker processes)`)
	f.Int64Var(&cfg.WorkerMemoryLimit, "worker-memory-limit", 0, "resident memory, in bytes, at which a worker process is killed and its request retried once; 0 for no limit")
	f.IntVar(&cfg.Threads, "threads", 0, "goroutines per upscale call (default: the number of CPUs divided by --workers, at least 1)")
	f.Int64Var(&cfg.MaxBodyBytes, "max-body-bytes", server.DefaultMaxBodyBytes, "largest request body, in bytes")
	f.Int64Var(&cfg.MaxPixels, "max-pixels", server.DefaultMaxPixels, "largest input, width × height in pixels")
	f.DurationVar(&cfg.RequestTimeout, "request-timeout", server.DefaultRequestTimeout, "time limit of one upscale, waiting in the queue included")
	f.DurationVar(&cfg.ResultTTL, "result-ttl", server.DefaultResultTTL, "how long a finished job's result is kept")
	f.DurationVar(&cfg.Grace, "grace", server.DefaultGrace, "how long work in flight may finish after SIGINT or SIGTERM")
	f.StringSliceVar(&cfg.Preload, "preload", []string{server.DefaultModelName}, "models to load at start, comma-separated catalog names such as esrgan-slim:4x")
	return cmd
}

func runServe(ctx context.Context, cfg server.Config, s *streams) error {
	switch {
	case cfg.Workers < 1:
		return usagef("invalid --workers %d: use 1 or more", cfg.Workers)
	case cfg.Threads < 0:
		return usagef("invalid --threads %d: use a positive number, or 0 for one per CPU", cfg.Threads)
	case cfg.MaxBodyBytes < 1:
		return usagef("invalid --max-body-bytes %d: use a positive number of bytes", cfg.MaxBodyBytes)
	case cfg.MaxPixels < 1:
		return usagef("invalid --max-pixels %d: use a positive number of pixels", cfg.MaxPixels)
	case cfg.WorkerMode != server.WorkerInProcess && cfg.WorkerMode != server.WorkerProcess:
		return usagef("invalid --worker-mode %q: use %q or %q", cfg.WorkerMode, server.WorkerInProcess, server.WorkerProcess)
	case cfg.WorkerMemoryLimit < 0:
		return usagef("invalid --worker-memory-limit %d: use a number of bytes, or 0 for no limit", cfg.WorkerMemoryLimit)
	}
	for _, d := range []struct {
		flag  string
		value time.Duration
	}{{"--request-timeout", cfg.RequestTimeout}, {"--result-ttl", cfg.ResultTTL}, {"--grace", cfg.Grace}} {
		if d.value <= 0 {
			return usagef("invalid %s %v: use a positive duration such as 30s", d.flag, d.value)
		}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(s.err, nil))
	spareProcessor(&cfg)
	return server.Run(ctx, cfg)
}

// spareProcessor sets GOMAXPROCS to one more than the CPUs or the model
// goroutines, whichever is more, so the HTTP server always has a Go
// processor. Go's scheduler has no priorities, and model goroutines compute
// without blocking: with every processor busy, a goroutine woken by the
// network waits in a run queue behind them, and liveness probes time out.
// An explicit GOMAXPROCS in the environment wins.
func spareProcessor(cfg *server.Config) {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	procs := runtime.GOMAXPROCS(0)
	if cfg.Threads == 0 {
		cfg.Threads = max(1, procs/cfg.Workers)
	}
	busy := procs
	if cfg.WorkerMode == server.WorkerInProcess {
		busy = max(busy, cfg.Workers*cfg.Threads)
	}
	runtime.GOMAXPROCS(busy + 1)
}
