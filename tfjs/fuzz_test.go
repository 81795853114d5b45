package tfjs

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/upscaler-go/upscaler/internal/testfiles"
	"github.com/upscaler-go/upscaler/nn"
	"github.com/upscaler-go/upscaler/tensor"
)

// Sizes above which the fuzz targets skip an input, so each run stays fast.
const (
	maxFuzzJSON  = 128 << 10
	maxFuzzShard = 64 << 10
	// maxSeedJSON bounds the real model.json files used as seeds: the
	// fuzzer mutates larger ones too slowly to explore anything in seconds.
	maxSeedJSON = 16 << 10
)

// realModelJSONs returns the distinct model.json files of up to maxSize
// bytes of the UpscalerJS packages that are present, read out of their
// tarballs. esrgan-thick is left out because unpacking it takes seconds.
func realModelJSONs(tb testing.TB, maxSize int) [][]byte {
	tb.Helper()
	var out [][]byte
	seen := map[string]bool{}
	for _, pkg := range []string{testfiles.DefaultModel, testfiles.ESRGANSlim, testfiles.ESRGANMedium, testfiles.ESRGANLegacy} {
		file := filepath.Join(testfiles.Root(), "testdata", "npm", pkg)
		if _, err := os.Stat(file); err != nil {
			continue
		}
		files, err := readTarball(file, func(name string) bool { return strings.HasSuffix(name, "model.json") })
		if err != nil {
			tb.Fatal(err)
		}
		for _, data := range files {
			if len(data) <= maxSize && !seen[string(data)] {
				seen[string(data)] = true
				out = append(out, data)
			}
		}
	}
	return out
}

// smallModelJSONs returns the test models of this package's tests.
func smallModelJSONs() [][]byte {
	return [][]byte{
		convModel()["model.json"].Data,
		activationModel(2, "b", reluLayer("a", "in"), reluLayer("b", "a"))["model.json"].Data,
		[]byte(`{"modelTopology":{"class_name":"Sequential","config":{"name":"s","layers":[{"class_name":"UpSampling2D","config":{"size":[2,2],"batch_input_shape":[null,null,null,3]}}]}},"weightsManifest":[]}`),
		[]byte(`{"modelTopology":{"class_name":"Functional","config":{"layers":[{"class_name":"InputLayer","name":"in","config":{"batch_shape":[null,null,null,2]},"inbound_nodes":[]},{"class_name":"Activation","name":"a","config":{"activation":"relu"},"inbound_nodes":[{"args":[{"class_name":"__keras_tensor__","config":{"keras_history":["in",0,0]}}],"kwargs":{}}]}],"input_layers":["in",0,0],"output_layers":["a",0,0]}},"weightsManifest":[]}`),
	}
}

func FuzzParseModelJSON(f *testing.F) {
	for _, data := range append(realModelJSONs(f, maxSeedJSON), smallModelJSONs()...) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzJSON {
			t.Skip()
		}
		mj, err := ParseModelJSON(data)
		if err != nil {
			if mj != nil {
				t.Fatalf("ParseModelJSON returned a model with error %v", err)
			}
			return
		}
		// Whatever parses must also give a topology or an error.
		top, err := parseTopology(mj.ModelTopology)
		if err == nil && top == nil {
			t.Fatal("parseTopology returned neither a topology nor an error")
		}
	})
}

func FuzzDecodeGroup(f *testing.F) {
	// Seeds: each group of the real manifests with a few bytes, and small
	// groups with their exact bytes.
	for _, data := range realModelJSONs(f, maxFuzzJSON) {
		mj, err := ParseModelJSON(data)
		if err != nil {
			f.Fatal(err)
		}
		for _, g := range mj.WeightsManifest {
			spec, err := json.Marshal(g)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(spec, make([]byte, 64))
		}
	}
	f.Add([]byte(group([]string{"a.bin"}, weightSpec("c/kernel", "[3,3,2,2]", "float32"), weightSpec("c/bias", "[2]", "float32"))),
		append(f32Bytes(convKernel...), f32Bytes(convBias...)...))
	f.Add([]byte(`{"paths":["a"],"weights":[{"name":"w","shape":[2,2],"dtype":"float32","quantization":{"dtype":"uint8","min":-1,"scale":0.5}}]}`), []byte{0, 1, 2, 255})
	f.Add([]byte(`{"paths":["a"],"weights":[{"name":"w","shape":[3],"dtype":"int32","quantization":{"dtype":"uint16","min":-1,"scale":0.3,"original_dtype":"int32"}}]}`), u16Bytes(1, 2, 3))
	f.Add([]byte(`{"paths":["a"],"weights":[{"name":"w","shape":[2],"dtype":"float32","quantization":{"dtype":"float16"}},{"name":"v","shape":[1],"dtype":"int32"}]}`), append(u16Bytes(0x3c00, 0x7c01), i32Bytes(-3)...))

	f.Fuzz(func(t *testing.T, spec, data []byte) {
		if len(spec) > maxFuzzJSON || len(data) > maxFuzzShard {
			t.Skip()
		}
		var g WeightGroup
		if json.Unmarshal(spec, &g) != nil {
			return
		}
		ws, err := DecodeGroup(&g, data, g.Paths)
		if err != nil {
			if ws != nil {
				t.Fatalf("DecodeGroup returned weights with error %v", err)
			}
			return
		}
		// On success every byte belongs to exactly one weight.
		used := 0
		for _, w := range g.Weights {
			d := ws[w.Name]
			if d == nil {
				t.Fatalf("weight %q missing from the result", w.Name)
			}
			n, err := tensor.Elements(w.Shape)
			if err != nil || n != len(d.Data) {
				t.Fatalf("weight %q has %d values for shape %v", w.Name, len(d.Data), w.Shape)
			}
			size, _ := storedSize(&w)
			used += n * size
		}
		if used != len(data) {
			t.Fatalf("weights take %d bytes of %d", used, len(data))
		}
	})
}

// fuzzRunLimit bounds the feature maps a fuzzed model may run on.
const fuzzRunLimit = 1 << 16

func FuzzLoadFS(f *testing.F) {
	base := convModel()
	f.Add(base["model.json"].Data, base[shardName].Data)
	for _, data := range smallModelJSONs()[1:] {
		f.Add(data, []byte(nil))
	}
	prelu := functional("p", inputLayer(3), layer("PReLU", "p", `{"name":"p"}`, `[[["in",0,0,{}]]]`))
	f.Add([]byte(modelJSON(prelu, `[{"paths":["`+shardName+`"],"weights":[{"name":"p/alpha","shape":[1,1,3],"dtype":"float32","quantization":{"dtype":"uint8","min":-1,"scale":0.1}}]}]`)), []byte{1, 2, 3})
	dw := functional("d", inputLayer(2), layer("DepthwiseConv2D", "d",
		`{"name":"d","kernel_size":[3,3],"strides":[2,2],"padding":"same","depth_multiplier":2,"activation":"tanh","use_bias":false}`, `[[["in",0,0,{}]]]`))
	f.Add([]byte(modelJSON(dw, `[{"paths":["`+shardName+`"],"weights":[{"name":"d/depthwise_kernel","shape":[3,3,2,2],"dtype":"float32"}]}]`)), f32Bytes(ramp(36, -1, 0.05)...))

	f.Fuzz(func(t *testing.T, modelJSON, shard []byte) {
		if len(modelJSON) > maxFuzzJSON || len(shard) > maxFuzzShard {
			t.Skip()
		}
		files := fstest.MapFS{"model.json": {Data: modelJSON}, shardName: {Data: shard}}
		m, err := LoadFS(files, "model.json", nil)
		if err != nil {
			if m != nil {
				t.Fatalf("LoadFS returned a model with error %v", err)
			}
			return
		}
		if m == nil || m.Graph == nil {
			t.Fatal("LoadFS returned neither a model nor an error")
		}

		// Run what loaded on a tiny image when every feature map is small.
		cm, err := nn.Compile(m.Graph, nn.Options{Threads: 2})
		if err != nil {
			return
		}
		in := m.Graph.Input().Shape()
		h, w := in.H, in.W
		if h == nn.Dynamic {
			h = 3
		}
		if w == nn.Dynamic {
			w = 2
		}
		if h > 64 || w > 64 || in.C > 64 {
			return
		}
		shapes, err := cm.Shapes(h, w)
		if err != nil {
			return
		}
		for _, s := range shapes {
			if s.H > 256 || s.W > 256 || s.C > 256 || s.Size() > fuzzRunLimit {
				return
			}
		}
		x := tensor.New(h, w, in.C)
		for i := range x.Data {
			x.Data[i] = float32(i%7) - 3
		}
		if _, err := cm.Run(context.Background(), x); err != nil {
			t.Logf("Run: %v", err)
		}
	})
}
