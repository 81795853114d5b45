package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/upscaler-go/upscaler/models"
)

type modelsPullOptions struct {
	registry string
}

func newModelsPullCommand(s *streams) *cobra.Command {
	var opts modelsPullOptions
	cmd := &cobra.Command{
		Use:   "pull NAME",
		Short: "Download an official model into the model cache",
		Long: `Download the npm package of the official model NAME (see "upscaler models
list"), check it against the integrity hash the registry publishes, and unpack
it into the model cache. A package holds every scale of its model, so
"esrgan-thick" and "esrgan-thick:4x" download the same package.`,
		Example: "  upscaler models pull esrgan-thick\n  upscaler models pull --registry http://127.0.0.1:4873 esrgan-slim",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("models pull takes one model NAME, got %d arguments: see upscaler models list", len(args))
			}
			return nil
		},
		RunE: runE(func(ctx context.Context, args []string) error {
			return runModelsPull(ctx, &opts, args, s)
		}),
	}
	cmd.Flags().StringVar(&opts.registry, "registry", "", "npm registry URL (default: $NPM_CONFIG_REGISTRY, else https://registry.npmjs.org)")
	return cmd
}

func runModelsPull(ctx context.Context, opts *modelsPullOptions, args []string, s *streams) error {
	name, _, err := models.ParseName(args[0])
	if err != nil {
		return usageError{err}
	}
	f, err := models.LookupFamily(name)
	if err != nil {
		return usageError{err}
	}
	cache := newModelCache(opts.registry)
	if cache.cached(f.Package, f.Version) {
		fmt.Fprintf(s.out, "%s (%s@%s) is already in the model cache: %s\n", f.Name, f.Package, f.Version, cache.dir(f.Package, f.Version))
		return nil
	}
	dir, err := pullPackage(ctx, cache, f.Package, f.Version, s.err)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "pulled %s (%s@%s) into %s\n", f.Name, f.Package, f.Version, dir)
	return nil
}

// pullPackage downloads pkg@version into the cache, showing progress on
// log: a bar on a terminal, else a line at the start and at the end. A nil
// log shows nothing.
func pullPackage(ctx context.Context, cache modelCache, pkg, version string, log io.Writer) (string, error) {
	var progress func(done, total int64)
	var p *mpb.Progress
	switch {
	case log == nil:
	case isTerminal(log):
		p = mpb.New(mpb.WithOutput(log), mpb.WithWidth(72))
		bar := p.AddBar(0, mpb.BarRemoveOnComplete(),
			mpb.PrependDecorators(decor.Name(pkg+"@"+version, decor.WCSyncSpaceR), decor.CountersKiloByte("% .1f / % .1f")),
			mpb.AppendDecorators(decor.Elapsed(decor.ET_STYLE_GO), decor.Name(" ETA "), decor.AverageETA(decor.ET_STYLE_GO)))
		progress = func(done, total int64) {
			bar.SetTotal(total, false)
			bar.SetCurrent(done)
		}
		defer func() {
			bar.Abort(true)
			p.Wait()
		}()
	default:
		fmt.Fprintf(log, "upscaler: downloading %s@%s\n", pkg, version)
	}

	start := time.Now()
	dir, err := cache.pull(ctx, pkg, version, progress)
	if err != nil {
		return "", fmt.Errorf("pull %s@%s: %w", pkg, version, err)
	}
	if log != nil && p == nil {
		fmt.Fprintf(log, "upscaler: downloaded %s@%s in %.1fs\n", pkg, version, time.Since(start).Seconds())
	}
	return dir, nil
}
