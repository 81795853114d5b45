package tfjs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/upscaler-go/upscaler/nn"
	"github.com/upscaler-go/upscaler/tensor"
)

// Model is a loaded layers model.
type Model struct {
	// File is the path of model.json, for messages.
	File string
	// Graph is the network with its weights.
	Graph *nn.Graph
	// Topology is the Keras class of the network: Sequential, Model or
	// Functional.
	Topology string
	// KerasVersion is the version of Keras or tfjs-layers that wrote it.
	KerasVersion string
	// Params is the number of weight values.
	Params int64
	// WeightBytes is the size of the weight shards.
	WeightBytes int64
}

// LoadError reports why a model could not be loaded. File is the model.json
// path; Err is often a *nn.LayerError or *WeightError naming the part.
type LoadError struct {
	File string
	Err  error
}

func (e *LoadError) Error() string { return fmt.Sprintf("tfjs: load %s: %v", e.File, e.Err) }

func (e *LoadError) Unwrap() error { return e.Err }

// Options tunes loading. The zero value is ready to use.
type Options struct {
	// Layers adds layer classes for this load only, on top of those
	// registered with RegisterLayer.
	Layers map[string]LayerFunc
}

// LoadFile loads the model whose model.json is at file, with its shards
// beside it.
func LoadFile(file string, opts *Options) (*Model, error) {
	dir, name := filepath.Split(file)
	if dir == "" {
		dir = "."
	}
	m, err := LoadFS(os.DirFS(dir), name, opts)
	relabel(m, err, file)
	return m, err
}

// LoadDir loads dir/model.json.
func LoadDir(dir string, opts *Options) (*Model, error) {
	return LoadFile(filepath.Join(dir, "model.json"), opts)
}

// relabel replaces an fs-relative path in a result with the caller's path.
func relabel(m *Model, err error, file string) {
	if m != nil {
		m.File = file
	}
	var le *LoadError
	if errors.As(err, &le) {
		le.File = file
	}
}

// LoadFS loads the model whose model.json is at name in fsys; shard paths
// are resolved against name's directory and must stay inside fsys.
func LoadFS(fsys fs.FS, name string, opts *Options) (*Model, error) {
	if opts == nil {
		opts = &Options{}
	}
	m, err := load(fsys, name, opts)
	if err != nil {
		return nil, &LoadError{File: name, Err: err}
	}
	return m, nil
}

func load(fsys fs.FS, name string, opts *Options) (*Model, error) {
	data, err := readLimited(fsys, name, MaxModelJSONBytes)
	if err != nil {
		return nil, err
	}
	mj, err := ParseModelJSON(data)
	if err != nil {
		return nil, err
	}
	top, err := parseTopology(mj.ModelTopology)
	if err != nil {
		return nil, err
	}

	// Read and decode every weight group.
	weights := map[string]*tensor.Tensor{}
	var total int64
	dir := path.Dir(name)
	for gi := range mj.WeightsManifest {
		g := &mj.WeightsManifest[gi]
		var shards [][]byte
		var files []string
		for _, p := range g.Paths {
			file := path.Join(dir, p)
			files = append(files, file)
			if !fs.ValidPath(file) {
				return nil, fmt.Errorf("weight shard path %q points outside the folder the model was loaded from", p)
			}
			b, err := readLimited(fsys, file, MaxWeightBytes-total)
			if err != nil {
				return nil, fmt.Errorf("weight shard: %w", err)
			}
			total += int64(len(b))
			shards = append(shards, b)
		}
		ws, err := decodeShards(g, shards, files)
		if err != nil {
			return nil, err
		}
		for k, v := range ws {
			if _, dup := weights[k]; dup {
				return nil, &WeightError{Weight: k, Files: files, Err: errors.New("appears in two manifest groups")}
			}
			weights[k] = v
		}
	}

	g, params, err := build(top, weights, opts)
	if err != nil {
		return nil, err
	}
	return &Model{File: name, Graph: g, Topology: top.className, KerasVersion: top.kerasVersion, Params: params, WeightBytes: total}, nil
}

// readLimited reads a file of at most limit bytes. A file of a memFS is
// handed over instead, and can be read only once.
func readLimited(fsys fs.FS, name string, limit int64) ([]byte, error) {
	if m, ok := fsys.(memFS); ok {
		if b, ok := m.take(name); ok {
			if int64(len(b)) > limit {
				return nil, fmt.Errorf("%s is %d bytes, more than the %d a model file may have", name, len(b), limit)
			}
			return b, nil
		}
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	if st, err := f.Stat(); err == nil {
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%s is not a regular file", name)
		}
		if st.Size() > limit {
			return nil, fmt.Errorf("%s is %d bytes, more than the %d a model file may have", name, st.Size(), limit)
		}
		// Room for the whole file and the read that finds its end, so the
		// buffer is allocated once.
		buf.Grow(int(st.Size()) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(f, limit+1)); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	b := buf.Bytes()
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is more than the %d bytes a model file may have", name, limit)
	}
	return b, nil
}

// build turns the topology into an nn graph, giving each layer the weights
// whose names start with the layer's name and a slash.
func build(top *topology, weights map[string]*tensor.Tensor, opts *Options) (*nn.Graph, int64, error) {
	byLayer := map[string]map[string]*tensor.Tensor{}
	var params int64
	for name, w := range weights {
		params += int64(w.Len())
		layer, suffix, ok := splitWeightName(name)
		if !ok {
			continue
		}
		if byLayer[layer] == nil {
			byLayer[layer] = map[string]*tensor.Tensor{}
		}
		byLayer[layer][suffix] = w
	}

	b := nn.NewBuilder()
	nodes := map[tensorRef]*nn.Node{}
	seen := map[string]bool{}
	for _, l := range top.layers {
		if l.Name == "" {
			return nil, 0, fmt.Errorf("a %s layer has no name", l.ClassName)
		}
		if seen[l.Name] {
			return nil, 0, &nn.LayerError{Layer: l.Name, Class: l.ClassName, Err: errors.New("two layers have this name")}
		}
		seen[l.Name] = true
		if l.ClassName == "InputLayer" {
			s, err := inputShape(l.Config)
			if err != nil {
				return nil, 0, &nn.LayerError{Layer: l.Name, Class: l.ClassName, Err: err}
			}
			nodes[tensorRef{layer: l.Name}] = b.Input(l.Name, s)
			continue
		}
		f, err := lookupLayer(l.ClassName, opts.Layers)
		if err != nil {
			return nil, 0, &nn.LayerError{Layer: l.Name, Class: l.ClassName, Err: err}
		}
		cfg := &LayerConfig{Name: l.Name, ClassName: l.ClassName, Config: l.Config, Weights: byLayer[l.Name]}
		layer, err := f(cfg)
		if err != nil {
			return nil, 0, &nn.LayerError{Layer: l.Name, Class: l.ClassName, Err: err}
		}
		if len(l.calls) == 0 {
			return nil, 0, &nn.LayerError{Layer: l.Name, Class: l.ClassName, Err: errors.New("layer has no inbound nodes, so nothing feeds it")}
		}
		for ci, call := range l.calls {
			var ins []*nn.Node
			for _, ref := range call {
				if ref.tensorIdx != 0 {
					return nil, 0, &nn.LayerError{Layer: l.Name, Class: l.ClassName, Err: fmt.Errorf("input %v: only single-output layers are supported", ref)}
				}
				in, ok := nodes[ref]
				if !ok {
					return nil, 0, &nn.LayerError{Layer: l.Name, Class: l.ClassName, Err: fmt.Errorf("input %q names no layer defined before this one", ref.layer)}
				}
				ins = append(ins, in)
			}
			name := l.Name
			if ci > 0 {
				name = fmt.Sprintf("%s#%d", l.Name, ci)
			}
			nodes[tensorRef{layer: l.Name, call: ci}] = b.Add(name, layer, ins...)
		}
	}
	if err := b.Err(); err != nil {
		return nil, 0, err
	}
	out, ok := nodes[tensorRef{layer: top.outputs[0].layer, call: top.outputs[0].call}]
	if !ok {
		return nil, 0, fmt.Errorf("output %v names no layer", top.outputs[0])
	}
	if _, ok := nodes[tensorRef{layer: top.inputs[0].layer}]; !ok {
		return nil, 0, fmt.Errorf("input %v names no InputLayer", top.inputs[0])
	}
	g, err := b.Build(out)
	return g, params, err
}

// splitWeightName splits "layer/kernel:0" into "layer" and "kernel". Names
// of nested layers keep their inner slashes in the layer part.
func splitWeightName(name string) (layer, weight string, ok bool) {
	name = strings.TrimSuffix(name, ":0")
	i := strings.LastIndexByte(name, '/')
	if i <= 0 {
		return "", "", false
	}
	return name[:i], name[i+1:], true
}

// inputShape reads an InputLayer's batch_input_shape (Keras 2) or
// batch_shape (Keras 3): [batch, height, width, channels].
func inputShape(raw json.RawMessage) (nn.Shape, error) {
	var c struct {
		BatchInputShape []*int `json:"batch_input_shape"`
		BatchShape      []*int `json:"batch_shape"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nn.Shape{}, fmt.Errorf("config: %w", err)
	}
	dims := c.BatchInputShape
	if dims == nil {
		dims = c.BatchShape
	}
	if len(dims) != 4 {
		return nn.Shape{}, fmt.Errorf("input shape has %d dimensions; image models take [batch, height, width, channels]", len(dims))
	}
	get := func(p *int) int {
		if p == nil {
			return nn.Dynamic
		}
		return *p
	}
	s := nn.Shape{H: get(dims[1]), W: get(dims[2]), C: get(dims[3])}
	if s.C <= 0 || s.H == 0 || s.W == 0 || s.H < nn.Dynamic || s.W < nn.Dynamic {
		return nn.Shape{}, fmt.Errorf("input shape %v is not a valid image shape", s)
	}
	return s, nil
}
