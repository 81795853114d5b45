package main

import (
	"context"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/upscaler-go/upscaler/worker"
)

type workerOptions struct {
	threads     int
	concurrency int
}

func newWorkerCommand(s *streams) *cobra.Command {
	var opts workerOptions
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Serve upscaling requests on standard input and output",
		Long: `Read upscaling requests from standard input and write progress, results and
errors to standard output, in the framed message format of package message
(docs/message-format.md), until standard input ends. Logs go to standard
error. Models are the official catalog and the model cache, as for upscale.
A parent process runs it to upscale outside its own address space.`,
		Args: cobra.NoArgs,
		RunE: runE(func(ctx context.Context, args []string) error {
			return runWorker(ctx, &opts, s)
		}),
	}
	f := cmd.Flags()
	f.IntVar(&opts.threads, "threads", 0, "goroutines per request (default: the number of CPUs)")
	f.IntVar(&opts.concurrency, "concurrency", 1, "requests upscaled at once; later ones wait in arrival order")
	return cmd
}

func runWorker(ctx context.Context, opts *workerOptions, s *streams) error {
	if opts.threads < 0 {
		return usagef("invalid --threads %d: use a positive number, or 0 for one per CPU", opts.threads)
	}
	if opts.concurrency < 1 {
		return usagef("invalid --concurrency %d: use 1 or more", opts.concurrency)
	}
	cfg := worker.Config{
		Logger:      slog.New(slog.NewTextHandler(s.err, nil)),
		Threads:     opts.threads,
		Concurrency: opts.concurrency,
	}
	return worker.Serve(ctx, s.in, s.out, cfg)
}
