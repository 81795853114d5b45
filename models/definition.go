package models

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/upscaler-go/upscaler/tensor"
	"github.com/upscaler-go/upscaler/tfjs"
)

// Range is the interval of values a model reads or writes, [Min, Max].
// UpscalerJS models use either [0, 255] or [0, 1].
type Range struct{ Min, Max float32 }

// Byte is the range of 8-bit pixel values; Unit is [0, 1].
var (
	Byte = Range{0, 255}
	Unit = Range{0, 1}
)

// Definition describes one model: where its files are and how to run it.
// Fields left zero take the defaults documented on each.
type Definition struct {
	// Name is the catalog name, such as "esrgan-slim", or a label for a
	// custom model.
	Name string
	// Scale is the factor by which the model enlarges each side.
	Scale int
	// Package and Version name the npm package of an official model.
	Package, Version string
	// Path is model.json's path inside the package, FS or Source folder.
	Path string

	// FS, when set, holds the model files (an embedded model).
	FS fs.FS
	// Source is a path on disk: a model.json file, a folder holding
	// model.json, or an npm package (.tgz or folder) in which Path names
	// the model. When both FS and Source are empty, an official model is
	// looked up in the model cache.
	Source string

	// InputRange is the range the model expects; input pixels (0..255) are
	// multiplied by 1/255 when its maximum is 1. The zero value means Byte.
	InputRange Range
	// OutputRange is the range the model produces; output is clipped to it
	// and multiplied by 255 when its maximum is 1. The zero value means Byte.
	OutputRange Range
	// Divisor, when above 1, is a number the input's height and width must
	// be multiples of; inputs are padded right and bottom to fit.
	Divisor int
	// InputSize, when above 0, is the fixed square input size the model
	// takes; it overrides any patch size. Zero means the size is read from
	// the model (dynamic for every official model).
	InputSize int

	// PreProcess and PostProcess, when set, transform the model's input
	// (after range scaling) and output (before it).
	PreProcess, PostProcess func(*tensor.Tensor) (*tensor.Tensor, error)
	// Layers adds custom layer classes the model needs.
	Layers map[string]tfjs.LayerFunc
	// Meta is free-form information: architecture, dataset, and so on.
	Meta map[string]string
}

// In returns the input range with the default applied.
func (d *Definition) In() Range { return orByte(d.InputRange) }

// Out returns the output range with the default applied.
func (d *Definition) Out() Range { return orByte(d.OutputRange) }

func orByte(r Range) Range {
	if r == (Range{}) {
		return Byte
	}
	return r
}

// String returns the name and scale, as in "esrgan-slim:4x".
func (d *Definition) String() string { return fmt.Sprintf("%s:%dx", d.Name, d.Scale) }

// Validate checks the fields that do not need the model files.
func (d *Definition) Validate() error {
	if d.Scale < 1 {
		return fmt.Errorf("models: %s: scale %d must be at least 1", d.Name, d.Scale)
	}
	for _, r := range []Range{d.In(), d.Out()} {
		if !(r.Max > r.Min) {
			return fmt.Errorf("models: %s: range [%v, %v] must have max above min", d.Name, r.Min, r.Max)
		}
	}
	if d.Divisor < 0 || d.InputSize < 0 {
		return fmt.Errorf("models: %s: divisor %d and input size %d must not be negative", d.Name, d.Divisor, d.InputSize)
	}
	return nil
}

// ErrNotCached is returned, wrapped, by Load for an official model whose
// package is not in the model cache.
var ErrNotCached = errors.New("model is not downloaded")

// Load reads the model's files.
func (d *Definition) Load() (*tfjs.Model, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	opts := &tfjs.Options{Layers: d.Layers}
	switch {
	case d.FS != nil:
		return tfjs.LoadFS(d.FS, d.Path, opts)
	case d.Source != "":
		return loadSource(d.Source, d.Path, opts)
	case d.Package != "":
		dir := CachePath(d.Package, d.Version)
		if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
			return nil, fmt.Errorf("models: %s (%s@%s): %w; run: upscaler models pull %s", d, d.Package, d.Version, ErrNotCached, d.Name)
		}
		return loadSource(dir, d.Path, opts)
	}
	return nil, fmt.Errorf("models: %s: the definition names no files (set FS, Source or Package)", d.Name)
}

// loadSource loads a model from a path on disk: a model.json file, a model
// folder, or a package (.tgz or folder with package.json) holding sub.
func loadSource(src, sub string, opts *tfjs.Options) (*tfjs.Model, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	isPackage := strings.HasSuffix(src, ".tgz") || strings.HasSuffix(src, ".tar.gz")
	if st.IsDir() {
		if _, err := os.Stat(filepath.Join(src, "package.json")); err == nil && sub != "" {
			isPackage = true
		}
	}
	switch {
	case isPackage:
		pkg, err := tfjs.OpenPackage(src)
		if err != nil {
			return nil, err
		}
		if sub == "" {
			return nil, fmt.Errorf("models: %s is an npm package; give the model's path inside it, such as models/x4/model.json", src)
		}
		return pkg.Load(sub, opts)
	case st.IsDir():
		if sub != "" {
			return tfjs.LoadFile(filepath.Join(src, filepath.FromSlash(sub)), opts)
		}
		return tfjs.LoadDir(src, opts)
	}
	return tfjs.LoadFile(src, opts)
}

//go:embed defaultmodel/model.json defaultmodel/group1-shard1of1.bin
var defaultFS embed.FS

// Default returns the embedded default model: @upscalerjs/default-model
// 1.0.0, a 2× ESRGAN slim network.
func Default() Definition {
	d := official[0].definition(2)
	fsys, _ := fs.Sub(defaultFS, "defaultmodel")
	d.FS, d.Path = fsys, "model.json"
	return d
}
