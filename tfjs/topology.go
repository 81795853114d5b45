package tfjs

import (
	"encoding/json"
	"errors"
	"fmt"
)

// topology is a Keras network after the spellings of the different Keras
// versions are normalised.
type topology struct {
	className    string // Sequential, Model or Functional
	kerasVersion string
	layers       []kerasLayer
	inputs       []tensorRef
	outputs      []tensorRef
}

type kerasLayer struct {
	ClassName string          `json:"class_name"`
	Name      string          `json:"name"`
	Config    json.RawMessage `json:"config"`
	// calls holds, for each time the layer is applied, the tensors it reads.
	calls [][]tensorRef
}

// tensorRef names the output of one call of a layer.
type tensorRef struct {
	layer     string
	call      int // node_index in Keras
	tensorIdx int
}

func (r tensorRef) String() string { return fmt.Sprintf("%s[%d][%d]", r.layer, r.call, r.tensorIdx) }

// parseTopology reads modelTopology in either of its layouts: the
// tfjs-layers one, {class_name, config, keras_version}, and the converter's
// one, {keras_version, backend, model_config: {class_name, config}}.
func parseTopology(raw json.RawMessage) (*topology, error) {
	var top struct {
		ClassName    string          `json:"class_name"`
		Config       json.RawMessage `json:"config"`
		KerasVersion string          `json:"keras_version"`
		ModelConfig  *struct {
			ClassName string          `json:"class_name"`
			Config    json.RawMessage `json:"config"`
		} `json:"model_config"`
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, fmt.Errorf("modelTopology: %w", err)
	}
	if top.ModelConfig != nil {
		top.ClassName, top.Config = top.ModelConfig.ClassName, top.ModelConfig.Config
	}
	t := &topology{className: top.ClassName, kerasVersion: top.KerasVersion}
	switch top.ClassName {
	case "Sequential":
		return t, t.parseSequential(top.Config)
	case "Model", "Functional":
		return t, t.parseFunctional(top.Config)
	case "":
		return nil, errors.New("modelTopology has no class_name")
	}
	return nil, fmt.Errorf("modelTopology class %q is not Sequential, Model or Functional", top.ClassName)
}

// parseSequential reads a Sequential config: either {name, layers} (Keras
// 2.2.3 and later) or the bare list of layers (older Keras). Each layer
// reads the one before it; the first may carry the input shape.
func (t *topology) parseSequential(raw json.RawMessage) error {
	var layers []kerasLayer
	var obj struct {
		Layers []kerasLayer `json:"layers"`
	}
	if err := json.Unmarshal(raw, &obj); err == nil {
		layers = obj.Layers
	} else if err := json.Unmarshal(raw, &layers); err != nil {
		return fmt.Errorf("Sequential config: %w", err)
	}
	if len(layers) == 0 {
		return errors.New("Sequential model has no layers")
	}
	for i := range layers {
		if layers[i].Name == "" {
			var c struct {
				Name string `json:"name"`
			}
			_ = json.Unmarshal(layers[i].Config, &c)
			layers[i].Name = c.Name
		}
		if layers[i].Name == "" {
			layers[i].Name = fmt.Sprintf("%s_%d", layers[i].ClassName, i)
		}
	}
	if layers[0].ClassName != "InputLayer" {
		// The first layer's batch_input_shape defines an implicit input.
		in := kerasLayer{ClassName: "InputLayer", Name: layers[0].Name + "_input", Config: layers[0].Config}
		layers = append([]kerasLayer{in}, layers...)
	}
	for i := 1; i < len(layers); i++ {
		layers[i].calls = [][]tensorRef{{{layer: layers[i-1].Name}}}
	}
	t.layers = layers
	t.inputs = []tensorRef{{layer: layers[0].Name}}
	t.outputs = []tensorRef{{layer: layers[len(layers)-1].Name}}
	return nil
}

// parseFunctional reads a Model or Functional config.
func (t *topology) parseFunctional(raw json.RawMessage) error {
	var cfg struct {
		Layers []struct {
			kerasLayer
			InboundNodes json.RawMessage `json:"inbound_nodes"`
		} `json:"layers"`
		InputLayers  json.RawMessage `json:"input_layers"`
		OutputLayers json.RawMessage `json:"output_layers"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("%s config: %w", t.className, err)
	}
	for _, l := range cfg.Layers {
		kl := l.kerasLayer
		calls, err := parseInbound(l.InboundNodes)
		if err != nil {
			return fmt.Errorf("layer %q (%s): inbound_nodes: %w", kl.Name, kl.ClassName, err)
		}
		kl.calls = calls
		t.layers = append(t.layers, kl)
	}
	var err error
	if t.inputs, err = parseRefList(cfg.InputLayers); err != nil {
		return fmt.Errorf("input_layers: %w", err)
	}
	if t.outputs, err = parseRefList(cfg.OutputLayers); err != nil {
		return fmt.Errorf("output_layers: %w", err)
	}
	if len(t.inputs) != 1 || len(t.outputs) != 1 {
		return fmt.Errorf("model has %d inputs and %d outputs; only models with one of each are supported", len(t.inputs), len(t.outputs))
	}
	return nil
}

// parseInbound reads a layer's inbound_nodes. Keras 2 writes a list of
// calls, each a list of [layer, node_index, tensor_index, kwargs] with the
// kwargs optional; Keras 3 writes a list of {"args": [...], "kwargs": {}}
// whose args hold {"config": {"keras_history": [layer, node, tensor]}}.
func parseInbound(raw json.RawMessage) ([][]tensorRef, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var calls []json.RawMessage
	if err := json.Unmarshal(raw, &calls); err != nil {
		return nil, err
	}
	var out [][]tensorRef
	for _, c := range calls {
		var refs []json.RawMessage
		if err := json.Unmarshal(c, &refs); err == nil {
			var call []tensorRef
			for _, r := range refs {
				ref, err := parseRef(r)
				if err != nil {
					return nil, err
				}
				call = append(call, ref)
			}
			out = append(out, call)
			continue
		}
		var k3 struct {
			Args []json.RawMessage `json:"args"`
		}
		if err := json.Unmarshal(c, &k3); err != nil {
			return nil, fmt.Errorf("unrecognised call %s", truncate(c))
		}
		var call []tensorRef
		for _, a := range k3.Args {
			refs, err := kerasHistory(a)
			if err != nil {
				return nil, err
			}
			call = append(call, refs...)
		}
		out = append(out, call)
	}
	return out, nil
}

// kerasHistory collects the tensors referenced by a Keras 3 call argument,
// which is a tensor or a list of tensors.
func kerasHistory(raw json.RawMessage) ([]tensorRef, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err == nil {
		var out []tensorRef
		for _, item := range list {
			refs, err := kerasHistory(item)
			if err != nil {
				return nil, err
			}
			out = append(out, refs...)
		}
		return out, nil
	}
	var t struct {
		Config struct {
			History json.RawMessage `json:"keras_history"`
		} `json:"config"`
	}
	if err := json.Unmarshal(raw, &t); err != nil || t.Config.History == nil {
		return nil, fmt.Errorf("call argument %s is not a tensor", truncate(raw))
	}
	ref, err := parseRef(t.Config.History)
	return []tensorRef{ref}, err
}

// parseRef reads [layer, node_index, tensor_index, ...].
func parseRef(raw json.RawMessage) (tensorRef, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil || len(parts) < 1 {
		return tensorRef{}, fmt.Errorf("tensor reference %s is not [layer, node, tensor]", truncate(raw))
	}
	var r tensorRef
	if err := json.Unmarshal(parts[0], &r.layer); err != nil {
		return tensorRef{}, fmt.Errorf("tensor reference %s: layer name is not a string", truncate(raw))
	}
	if len(parts) > 1 {
		if err := json.Unmarshal(parts[1], &r.call); err != nil || r.call < 0 {
			return tensorRef{}, fmt.Errorf("tensor reference %s: node index is not a non-negative integer", truncate(raw))
		}
	}
	if len(parts) > 2 {
		if err := json.Unmarshal(parts[2], &r.tensorIdx); err != nil || r.tensorIdx < 0 {
			return tensorRef{}, fmt.Errorf("tensor reference %s: tensor index is not a non-negative integer", truncate(raw))
		}
	}
	return r, nil
}

// parseRefList reads input_layers or output_layers: a list of references,
// or a single flat reference.
func parseRefList(raw json.RawMessage) ([]tensorRef, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("%s is not a list", truncate(raw))
	}
	if len(list) > 0 {
		var name string
		if json.Unmarshal(list[0], &name) == nil {
			r, err := parseRef(raw)
			return []tensorRef{r}, err
		}
	}
	var out []tensorRef
	for _, item := range list {
		r, err := parseRef(item)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func truncate(b []byte) string {
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}
