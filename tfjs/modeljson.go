package tfjs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ModelJSON is the content of a layers model's model.json.
type ModelJSON struct {
	Format          string          `json:"format"`
	GeneratedBy     string          `json:"generatedBy"`
	ConvertedBy     json.RawMessage `json:"convertedBy"`
	ModelTopology   json.RawMessage `json:"modelTopology"`
	WeightsManifest []WeightGroup   `json:"weightsManifest"`
}

// WeightGroup is one entry of the weights manifest: shard files whose
// concatenation holds the listed weights, in order.
type WeightGroup struct {
	Paths   []string     `json:"paths"`
	Weights []WeightSpec `json:"weights"`
}

// WeightSpec describes one weight in a group.
type WeightSpec struct {
	Name         string        `json:"name"`
	Shape        []int         `json:"shape"`
	Dtype        string        `json:"dtype"`
	Quantization *Quantization `json:"quantization,omitempty"`
}

// Quantization describes how the converter stored a weight: uint8 and uint16
// hold q with value = q·Scale + Min; float16 holds IEEE half floats.
type Quantization struct {
	Dtype         string   `json:"dtype"`
	Min           *float64 `json:"min,omitempty"`
	Scale         *float64 `json:"scale,omitempty"`
	OriginalDtype string   `json:"original_dtype,omitempty"`
}

// MaxModelJSONBytes is the largest model.json the loader reads. The largest
// official UpscalerJS topology is under 1 MB.
const MaxModelJSONBytes = 64 << 20

// ParseModelJSON decodes and checks model.json. It rejects anything that is
// not a layers model with a topology.
func ParseModelJSON(data []byte) (*ModelJSON, error) {
	if len(data) > MaxModelJSONBytes {
		return nil, fmt.Errorf("model.json is %d bytes, more than the %d a model description can be", len(data), MaxModelJSONBytes)
	}
	var m ModelJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	switch m.Format {
	case "layers-model", "":
		// Files written by older tfjs-layers have no format field.
	case "graph-model":
		return nil, errors.New(`format is "graph-model"; only TensorFlow.js layers models are supported`)
	default:
		return nil, fmt.Errorf("format %q is not %q", m.Format, "layers-model")
	}
	if len(m.ModelTopology) == 0 || string(m.ModelTopology) == "null" {
		return nil, errors.New("modelTopology is missing")
	}
	for gi, g := range m.WeightsManifest {
		if len(g.Weights) > 0 && len(g.Paths) == 0 {
			return nil, fmt.Errorf("weightsManifest group %d lists weights but no shard paths", gi)
		}
		for _, w := range g.Weights {
			if w.Name == "" {
				return nil, fmt.Errorf("weightsManifest group %d has a weight without a name", gi)
			}
		}
	}
	return &m, nil
}
