package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/upscaler-go/upscaler/models"
)

// downloadBytes are the sizes in bytes of the npm tarballs of the catalog's
// package versions, as published on the npm registry.
var downloadBytes = map[string]int64{
	"@upscalerjs/default-model":   1_013_889,
	"@upscalerjs/esrgan-slim":     4_357_056,
	"@upscalerjs/esrgan-medium":   11_361_705,
	"@upscalerjs/esrgan-thick":    110_294_929,
	"@upscalerjs/esrgan-legacy":   14_004_791,
	"@upscalerjs/pixel-upsampler": 7_675,
}

type modelsListOptions struct {
	json bool
}

func newModelsListCommand(s *streams) *cobra.Command {
	var opts modelsListOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the official models and whether they are downloaded",
		Long: `List the official models: name, scales, architecture, number of parameters
(of the default-scale model, shown once the model is downloaded), download
size, whether the package is in the model cache, and what the model is for.`,
		Args: cobra.NoArgs,
		RunE: runE(func(ctx context.Context, args []string) error {
			return runModelsList(ctx, &opts, s)
		}),
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print a JSON array instead of a table")
	return cmd
}

// modelInfo is one row of the list, and its --json form.
type modelInfo struct {
	Name          string `json:"name"`
	Package       string `json:"package"`
	Version       string `json:"version"`
	Scales        []int  `json:"scales"`
	Architecture  string `json:"architecture"`
	Parameters    *int64 `json:"parameters"` // null until downloaded
	DownloadBytes int64  `json:"downloadBytes"`
	Cached        bool   `json:"cached"`
	Embedded      bool   `json:"embedded"`
	Description   string `json:"description"`
}

func runModelsList(_ context.Context, opts *modelsListOptions, s *streams) error {
	cache := newModelCache("")
	var rows []modelInfo
	for _, f := range models.Families() {
		info := modelInfo{
			Name: f.Name, Package: f.Package, Version: f.Version, Scales: f.Scales(),
			Architecture: f.Architecture, DownloadBytes: downloadBytes[f.Package],
			Cached: cache.cached(f.Package, f.Version), Description: f.Description,
		}
		d, err := models.Lookup(f.Name, 0)
		if err != nil {
			return err
		}
		info.Embedded = d.FS != nil
		if info.Cached || info.Embedded {
			// Counting parameters reads the weights of one scale, which
			// takes well under a second even for esrgan-thick.
			if m, err := d.Load(); err == nil {
				info.Parameters = &m.Params
			}
		}
		rows = append(rows, info)
	}

	if opts.json {
		b, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(s.out, "%s\n", b)
		return err
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSCALES\tARCHITECTURE\tPARAMETERS\tSIZE\tCACHED\tDESCRIPTION")
	for _, r := range rows {
		scales := make([]string, len(r.Scales))
		for i, sc := range r.Scales {
			scales[i] = strconv.Itoa(sc) + "x"
		}
		params := "-"
		if r.Parameters != nil {
			params = formatCount(*r.Parameters)
		}
		cached := "no"
		switch {
		case r.Cached:
			cached = "yes"
		case r.Embedded:
			cached = "built in"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, strings.Join(scales, ","), r.Architecture,
			params, formatBytes(r.DownloadBytes), cached, r.Description)
	}
	return tw.Flush()
}

// formatCount writes a count with a k or M suffix.
func formatCount(n int64) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return strconv.FormatInt(n, 10)
}

// formatBytes writes a size in SI units.
func formatBytes(n int64) string {
	switch {
	case n <= 0:
		return "-"
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
