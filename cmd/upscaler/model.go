package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/upscaler-go/upscaler/models"
)

// modelOptions are the flags that choose a model.
type modelOptions struct {
	model       string
	scale       int
	inputRange  string
	outputRange string
	pull        bool
	registry    string
}

func (o *modelOptions) addFlags(f *pflag.FlagSet) {
	f.StringVarP(&o.model, "model", "m", "", "model: a catalog name such as esrgan-thick or esrgan-thick:4x (see \"upscaler models list\"),\n"+
		"or the path of an npm model package (.tgz or folder), a model folder or a model.json\n(default: the built-in default-model, the esrgan-slim 2x network)")
	f.IntVarP(&o.scale, "scale", "s", 0, "enlargement factor: 2, 3, 4 or 8 where the model has it (default: the model's smallest, 2 if it has it);\nrequired for a custom model.json or model folder")
	f.StringVar(&o.inputRange, "input-range", "0,255", "value range a custom model reads, \"0,255\" or \"0,1\"")
	f.StringVar(&o.outputRange, "output-range", "0,255", "value range a custom model writes, \"0,255\" or \"0,1\"")
	f.BoolVar(&o.pull, "pull", false, "download the model into the model cache if it is not there yet")
	f.StringVar(&o.registry, "registry", "", "npm registry URL to download models from (default: $NPM_CONFIG_REGISTRY, else https://registry.npmjs.org)")
}

// definition returns the model definition that the flags name. Bad names,
// scales and ranges are usage errors.
func (o *modelOptions) definition() (models.Definition, error) {
	if o.scale < 0 {
		return models.Definition{}, usagef("invalid --scale %d: use 2, 3, 4 or 8", o.scale)
	}
	if o.model == "" {
		d, err := models.Lookup("default-model", o.scale)
		if err != nil {
			return d, usagef("invalid --scale %d: the default model is 2x only, so for 3x, 4x or 8x choose a model such as -m esrgan-slim (see upscaler models list)", o.scale)
		}
		return d, nil
	}
	if !looksLikePath(o.model) {
		d, err := models.Lookup(o.model, o.scale)
		if _, ferr := models.LookupFamily(o.model); err != nil && ferr == nil && o.scale != 0 {
			// The family exists, so the scale is what is wrong.
			return d, usagef("invalid --scale %d: %s", o.scale, strings.TrimPrefix(err.Error(), "models: "))
		}
		if err != nil {
			return d, usageError{fmt.Errorf("invalid --model %q: %w", o.model, err)}
		}
		return d, nil
	}

	// A path names an official model when it is an npm package (.tgz, or a
	// folder with package.json), and a custom model.json or folder otherwise.
	st, err := os.Stat(o.model)
	if err != nil {
		return models.Definition{}, usagef("invalid --model %q: %v: give a catalog name (see upscaler models list) or an existing model path", o.model, errors.Unwrap(err))
	}
	_, pkgErr := os.Stat(filepath.Join(o.model, "package.json"))
	if strings.HasSuffix(strings.ToLower(o.model), ".tgz") || (st.IsDir() && pkgErr == nil) {
		d, err := models.FromPackage(o.model, "", o.scale)
		if err != nil {
			return d, usageError{fmt.Errorf("invalid --model %q: %w", o.model, err)}
		}
		return d, nil
	}
	if o.scale == 0 {
		return models.Definition{}, usagef("--model %s is a custom model: give its enlargement factor with --scale", o.model)
	}
	in, err := parseRange("--input-range", o.inputRange)
	if err != nil {
		return models.Definition{}, err
	}
	out, err := parseRange("--output-range", o.outputRange)
	if err != nil {
		return models.Definition{}, err
	}
	return models.Custom(o.model, o.scale, in, out), nil
}

// looksLikePath reports whether a --model value names a file rather than a
// catalog entry. Catalog names such as "esrgan-legacy/gans" contain a
// slash, so a path is recognised by existing on disk or by its form.
func looksLikePath(s string) bool {
	if _, err := os.Stat(s); err == nil {
		return true
	}
	ext := strings.ToLower(filepath.Ext(s))
	return ext == ".json" || ext == ".tgz" || filepath.IsAbs(s) ||
		strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") || strings.HasPrefix(s, "~")
}

// parseRange parses a value range written "min,max".
func parseRange(flag, s string) (models.Range, error) {
	lo, hi, ok := strings.Cut(s, ",")
	a, errA := strconv.ParseFloat(strings.TrimSpace(lo), 32)
	b, errB := strconv.ParseFloat(strings.TrimSpace(hi), 32)
	if !ok || errA != nil || errB != nil || a >= b {
		return models.Range{}, usagef("invalid %s %q: write min,max, such as 0,255 or 0,1", flag, s)
	}
	return models.Range{Min: float32(a), Max: float32(b)}, nil
}

// ensureCached downloads an official model's package when it is missing from
// the cache and pull is set, and points d at it. Download progress goes to
// log, nil for none. Without pull, a missing
// package is an error that gives the command to download it. Embedded and
// file models are returned unchanged.
func ensureCached(ctx context.Context, d *models.Definition, o *modelOptions, log io.Writer) error {
	if d.FS != nil || d.Source != "" || d.Package == "" {
		return nil
	}
	cache := newModelCache(o.registry)
	if cache.cached(d.Package, d.Version) {
		return nil
	}
	if !o.pull {
		return fmt.Errorf("%w: %s is not in the model cache %s: run: upscaler models pull %s, or add --pull", models.ErrNotCached, d, models.CacheDir(), d.Name)
	}
	dir, err := pullPackage(ctx, cache, d.Package, d.Version, log)
	if err != nil {
		return err
	}
	d.Source = dir
	return nil
}
