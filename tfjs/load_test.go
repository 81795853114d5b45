package tfjs

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/upscaler-go/upscaler/internal/testfiles"
	"github.com/upscaler-go/upscaler/nn"
	"github.com/upscaler-go/upscaler/tensor"
)

// run compiles m and runs it on in.
func run(t *testing.T, m *Model, in *tensor.Tensor) *tensor.Tensor {
	t.Helper()
	cm, err := nn.Compile(m.Graph, nn.Options{})
	if err != nil {
		t.Fatalf("Compile(%s): %v", m.File, err)
	}
	out, err := cm.Run(context.Background(), in)
	if err != nil {
		t.Fatalf("Run(%s): %v", m.File, err)
	}
	return out
}

// testImage returns an h×w×c tensor of distinct small values.
func testImage(h, w, c int) *tensor.Tensor {
	in := tensor.New(h, w, c)
	for i := range in.Data {
		in.Data[i] = float32((i*37)%23)/8 - 1
	}
	return in
}

// sameConv computes a stride-1 convolution with "same" padding and an odd
// kernel of shape [k, k, in, out] in float64.
func sameConv(in *tensor.Tensor, kernel []float32, k, outC int, bias []float32) []float64 {
	h, w, c := in.Shape[0], in.Shape[1], in.Shape[2]
	out := make([]float64, h*w*outC)
	for y := range h {
		for x := range w {
			for o := range outC {
				sum := float64(bias[o])
				for ky := range k {
					for kx := range k {
						iy, ix := y+ky-k/2, x+kx-k/2
						if iy < 0 || iy >= h || ix < 0 || ix >= w {
							continue
						}
						for ci := range c {
							sum += float64(in.Data[(iy*w+ix)*c+ci]) * float64(kernel[((ky*k+kx)*c+ci)*outC+o])
						}
					}
				}
				out[(y*w+x)*outC+o] = sum
			}
		}
	}
	return out
}

// checkClose fails when got and want differ by more than tol anywhere.
func checkClose(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s has %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i])-want[i]) > tol {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestLoadFSConvModel(t *testing.T) {
	m, err := LoadFS(convModel(), "model.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Topology != "Functional" || m.KerasVersion != "2.10.0" {
		t.Errorf("Topology, KerasVersion = %q, %q; want Functional, 2.10.0", m.Topology, m.KerasVersion)
	}
	if want := int64(len(convKernel) + len(convBias)); m.Params != want {
		t.Errorf("Params = %d, want %d", m.Params, want)
	}
	if want := int64(4 * (len(convKernel) + len(convBias))); m.WeightBytes != want {
		t.Errorf("WeightBytes = %d, want %d", m.WeightBytes, want)
	}
	in := testImage(4, 5, 2)
	out := run(t, m, in)
	checkClose(t, "conv output", out.Data, sameConv(in, convKernel, 3, 2, convBias), 1e-5)
}

// upsampleNearest2 is the expected output of a 2× nearest upsampling.
func upsampleNearest2(in *tensor.Tensor) []float64 {
	h, w, c := in.Shape[0], in.Shape[1], in.Shape[2]
	out := make([]float64, 4*h*w*c)
	for y := range 2 * h {
		for x := range 2 * w {
			for ch := range c {
				out[(y*2*w+x)*c+ch] = float64(in.Data[((y/2)*w+x/2)*c+ch])
			}
		}
	}
	return out
}

func TestLoadSequential(t *testing.T) {
	// tfjs-layers writes the upsampling layer with its batch_input_shape and
	// no InputLayer; Keras 3 writes an explicit InputLayer with batch_shape.
	const upsampling = `{"class_name":"UpSampling2D","config":{"name":"up","trainable":true,"batch_input_shape":[null,null,null,3],"dtype":"float32","size":[2,2],"data_format":"channels_last","interpolation":"nearest"}}`
	const upsamplingNoShape = `{"class_name":"UpSampling2D","config":{"name":"up","size":[2,2]}}`
	const keras3Input = `{"class_name":"InputLayer","config":{"batch_shape":[null,null,null,3],"dtype":"float32","sparse":false,"name":"input_layer"}}`
	const keras2Input = `{"class_name":"InputLayer","config":{"batch_input_shape":[null,null,null,3],"dtype":"float32","sparse":false,"ragged":false,"name":"input_1"}}`
	wrap := func(topology string) string {
		return `{"modelTopology":` + topology + `,"format":"layers-model","generatedBy":"TensorFlow.js tfjs-layers v4.2.0","convertedBy":null,"weightsManifest":[]}`
	}
	tests := []struct {
		name, json string
	}{
		{"name and layers", wrap(`{"class_name":"Sequential","config":{"name":"s","layers":[` + upsampling + `]},"keras_version":"tfjs-layers 4.2.0","backend":"tensor_flow.js"}`)},
		{"bare layer list", wrap(`{"class_name":"Sequential","config":[` + upsampling + `],"keras_version":"2.1.6","backend":"tensorflow"}`)},
		{"converter layout", wrap(`{"keras_version":"2.10.0","backend":"tensorflow","model_config":{"class_name":"Sequential","config":{"name":"s","layers":[` + upsampling + `]}}}`)},
		{"explicit Keras 2 InputLayer", wrap(`{"class_name":"Sequential","config":{"name":"s","layers":[` + keras2Input + `,` + upsamplingNoShape + `]}}`)},
		{"explicit Keras 3 InputLayer", wrap(`{"class_name":"Sequential","config":{"name":"s","layers":[` + keras3Input + `,` + upsamplingNoShape + `]}}`)},
		{"no format field", strings.Replace(wrap(`{"class_name":"Sequential","config":{"name":"s","layers":[`+upsampling+`]}}`), `"format":"layers-model",`, "", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := LoadFS(fstest.MapFS{"model.json": {Data: []byte(tt.json)}}, "model.json", nil)
			if err != nil {
				t.Fatal(err)
			}
			if m.Topology != "Sequential" {
				t.Errorf("Topology = %q, want Sequential", m.Topology)
			}
			if got := m.Graph.Input().Shape(); got != (nn.Shape{H: nn.Dynamic, W: nn.Dynamic, C: 3}) {
				t.Errorf("input shape = %v, want [?, ?, 3]", got)
			}
			in := testImage(3, 2, 3)
			out := run(t, m, in)
			checkClose(t, "output", out.Data, upsampleNearest2(in), 0)
		})
	}
}

func TestLoadSequentialChain(t *testing.T) {
	// A 1×1 convolution then a ReLU: each Sequential layer reads the one
	// before it.
	topology := `{"class_name":"Sequential","config":{"name":"s","layers":[` +
		`{"class_name":"Conv2D","config":{"name":"pw","batch_input_shape":[null,null,null,2],"filters":2,"kernel_size":[1,1],"padding":"valid","activation":"linear","use_bias":true}},` +
		`{"class_name":"Activation","config":{"name":"act","activation":"relu"}}]}}`
	manifest := "[" + group([]string{shardName}, weightSpec("pw/kernel", "[1,1,2,2]", "float32"), weightSpec("pw/bias", "[2]", "float32")) + "]"
	files := fstest.MapFS{
		"model.json": {Data: []byte(modelJSON(topology, manifest))},
		shardName:    {Data: f32Bytes(1, 2, 3, 4, 0.5, -10)},
	}
	m, err := LoadFS(files, "model.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	in := &tensor.Tensor{Shape: []int{1, 2, 2}, Data: []float32{1, 2, 3, 4}}
	out := run(t, m, in)
	// Pixel (a, b) gives (a + 3b + 0.5, relu(2a + 4b − 10)).
	want := []float64{7.5, 0, 15.5, 12}
	checkClose(t, "output", out.Data, want, 0)
}

func TestLoadFunctionalInboundNodes(t *testing.T) {
	// in → relu "a"; Add "sum" of in and a. The output is in + relu(in).
	keras2 := func(ref func(layer string) string) string {
		return functional("sum", inputLayer(2),
			layer("Activation", "a", `{"name":"a","activation":"relu"}`, "[["+ref("in")+"]]"),
			layer("Add", "sum", "", "[["+ref("in")+","+ref("a")+"]]"))
	}
	tensorArg := func(layer string) string {
		return `{"class_name":"__keras_tensor__","config":{"shape":[null,null,null,2],"dtype":"float32","keras_history":["` + layer + `",0,0]}}`
	}
	keras3 := `{"class_name":"Functional","config":{"name":"m","trainable":true,"layers":[` +
		`{"module":"keras.layers","class_name":"InputLayer","config":{"batch_shape":[null,null,null,2],"dtype":"float32","sparse":false,"name":"in"},"registered_name":null,"name":"in","inbound_nodes":[]},` +
		`{"module":"keras.layers","class_name":"Activation","config":{"name":"a","activation":"relu"},"name":"a","inbound_nodes":[{"args":[` + tensorArg("in") + `],"kwargs":{}}]},` +
		`{"module":"keras.layers","class_name":"Add","config":{"name":"sum"},"name":"sum","inbound_nodes":[{"args":[[` + tensorArg("in") + `,` + tensorArg("a") + `]],"kwargs":{}}]}` +
		`],"input_layers":["in",0,0],"output_layers":["sum",0,0]},"keras_version":"3.3.3"}`
	tests := []struct{ name, topology string }{
		{"Keras 2 with kwargs", keras2(func(l string) string { return `["` + l + `",0,0,{}]` })},
		{"Keras 2 without kwargs", keras2(func(l string) string { return `["` + l + `",0,0]` })},
		{"Keras 2 Model class", strings.Replace(keras2(func(l string) string { return `["` + l + `",0,0,{}]` }), `"Functional"`, `"Model"`, 1)},
		{"Keras 3", keras3},
	}
	in := &tensor.Tensor{Shape: []int{1, 2, 2}, Data: []float32{-1, 2, 3, -4}}
	want := []float64{-1, 4, 6, -4}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := LoadFS(fstest.MapFS{"model.json": {Data: []byte(modelJSON(tt.topology, "[]"))}}, "model.json", nil)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(m.Graph.Nodes()); n != 3 {
				t.Errorf("graph has %d nodes, want 3", n)
			}
			checkClose(t, "output", run(t, m, in).Data, want, 0)
		})
	}
}

func TestLoadWeightsAcrossGroupsAndShards(t *testing.T) {
	kernel := f32Bytes(convKernel...)
	bias := f32Bytes(convBias...)
	kernelSpec := weightSpec("conv/kernel", "[3,3,2,2]", "float32")
	biasSpec := weightSpec("conv/bias", "[2]", "float32")
	// An unused weight whose name has no layer part still counts as a
	// parameter and takes its bytes.
	extraSpec := weightSpec("step", "[1]", "int32")
	topology := functional("conv", inputLayer(2), convLayer("conv", "in", 3, 2, ""))
	tests := []struct {
		name     string
		manifest string
		files    map[string][]byte
		params   int64
	}{
		{
			name:     "bias first",
			manifest: "[" + group([]string{"a.bin"}, biasSpec, kernelSpec) + "]",
			files:    map[string][]byte{"a.bin": append(cloneBytes(bias), kernel...)},
			params:   38,
		},
		{
			// The kernel is cut in the middle of a value across shards.
			name:     "one group, three shards",
			manifest: "[" + group([]string{"g1-1.bin", "g1-2.bin", "g1-3.bin"}, kernelSpec, biasSpec) + "]",
			files:    map[string][]byte{"g1-1.bin": kernel[:50], "g1-2.bin": kernel[50:], "g1-3.bin": bias},
			params:   38,
		},
		{
			name: "two groups, two shards each",
			manifest: "[" + group([]string{"g1-1.bin", "g1-2.bin"}, biasSpec, extraSpec) + "," +
				group([]string{"g2-1.bin", "g2-2.bin"}, kernelSpec) + "]",
			files: map[string][]byte{
				"g1-1.bin": bias[:3], "g1-2.bin": append(cloneBytes(bias[3:]), i32Bytes(7)...),
				"g2-1.bin": kernel[:4], "g2-2.bin": kernel[4:],
			},
			params: 39,
		},
	}
	in := testImage(5, 3, 2)
	want := sameConv(in, convKernel, 3, 2, convBias)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := fstest.MapFS{"m/model.json": {Data: []byte(modelJSON(topology, tt.manifest))}}
			var size int64
			for name, b := range tt.files {
				files["m/"+name] = &fstest.MapFile{Data: b}
				size += int64(len(b))
			}
			m, err := LoadFS(files, "m/model.json", nil)
			if err != nil {
				t.Fatal(err)
			}
			if m.Params != tt.params {
				t.Errorf("Params = %d, want %d", m.Params, tt.params)
			}
			if m.WeightBytes != size {
				t.Errorf("WeightBytes = %d, want %d", m.WeightBytes, size)
			}
			checkClose(t, "conv output", run(t, m, in).Data, want, 1e-5)
		})
	}
}

// cloneBytes returns a copy of b that can be appended to without touching b.
func cloneBytes(b []byte) []byte { return append([]byte(nil), b...) }

func f64(v float64) *float64 { return &v }

func TestDecodeGroupValues(t *testing.T) {
	inf := float32(math.Inf(1))
	tests := []struct {
		name string
		spec WeightSpec
		data []byte
		want []float32
	}{
		{
			name: "float32",
			spec: WeightSpec{Dtype: "float32", Shape: []int{2, 2}},
			data: f32Bytes(1.5, -2.25, 0, 3e-39),
			want: []float32{1.5, -2.25, 0, 3e-39},
		},
		{
			name: "int32",
			spec: WeightSpec{Dtype: "int32", Shape: []int{4}},
			data: i32Bytes(-5, 0, 7, math.MaxInt32),
			want: []float32{-5, 0, 7, math.MaxInt32},
		},
		{
			name: "uint8",
			spec: WeightSpec{Dtype: "float32", Shape: []int{4}, Quantization: &Quantization{Dtype: "uint8", Min: f64(-1), Scale: f64(0.5), OriginalDtype: "float32"}},
			data: []byte{0, 1, 4, 255},
			want: []float32{-1, -0.5, 1, 126.5},
		},
		{
			// value = q·scale + min is computed in float64 and rounded once:
			// 3·0.1 + 0.1 is 0.4000000000000001 in float64, float32(0.4).
			name: "uint8 rounded once",
			spec: WeightSpec{Dtype: "float32", Shape: []int{1}, Quantization: &Quantization{Dtype: "uint8", Min: f64(0.1), Scale: f64(0.1)}},
			data: []byte{3},
			want: []float32{0.4},
		},
		{
			name: "uint16",
			spec: WeightSpec{Dtype: "float32", Shape: []int{3}, Quantization: &Quantization{Dtype: "uint16", Min: f64(-2), Scale: f64(0.25)}},
			data: u16Bytes(0, 8, 65535),
			want: []float32{-2, 0, 16381.75},
		},
		{
			name: "float16",
			spec: WeightSpec{Dtype: "float32", Shape: []int{8}, Quantization: &Quantization{Dtype: "float16"}},
			// 1, −2, 1/3 rounded, smallest subnormal 2⁻²⁴, largest subnormal,
			// largest finite 65504, +Inf, −0.
			data: u16Bytes(0x3c00, 0xc000, 0x3555, 0x0001, 0x03ff, 0x7bff, 0x7c00, 0x8000),
			want: []float32{1, -2, 0.333251953125, 0x1p-24, 1023 * 0x1p-24, 65504, inf, float32(math.Copysign(0, -1))},
		},
		{
			name: "uint8 of int32 is rounded",
			spec: WeightSpec{Dtype: "int32", Shape: []int{3}, Quantization: &Quantization{Dtype: "uint8", Min: f64(-1.3), Scale: f64(0.7), OriginalDtype: "int32"}},
			data: []byte{0, 2, 3},
			want: []float32{-1, 0, 1},
		},
		{
			name: "uint16 of int32 without original_dtype is rounded",
			spec: WeightSpec{Dtype: "int32", Shape: []int{2}, Quantization: &Quantization{Dtype: "uint16", Min: f64(0), Scale: f64(0.4)}},
			data: u16Bytes(1, 4),
			want: []float32{0, 2},
		},
		{
			name: "scalar",
			spec: WeightSpec{Dtype: "float32", Shape: []int{}},
			data: f32Bytes(0.2),
			want: []float32{0.2},
		},
		{
			name: "empty",
			spec: WeightSpec{Dtype: "float32", Shape: []int{0, 3}},
			data: nil,
			want: []float32{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Name = "layer/w"
			g := &WeightGroup{Paths: []string{"s.bin"}, Weights: []WeightSpec{tt.spec}}
			ws, err := DecodeGroup(g, tt.data, g.Paths)
			if err != nil {
				t.Fatal(err)
			}
			w := ws["layer/w"]
			if w == nil {
				t.Fatalf("DecodeGroup returned %v, no layer/w", ws)
			}
			if fmt.Sprint(w.Shape) != fmt.Sprint(tt.spec.Shape) {
				t.Errorf("shape = %v, want %v", w.Shape, tt.spec.Shape)
			}
			if len(w.Data) != len(tt.want) {
				t.Fatalf("got %d values, want %d", len(w.Data), len(tt.want))
			}
			for i, v := range w.Data {
				if math.Float32bits(v) != math.Float32bits(tt.want[i]) {
					t.Errorf("value %d = %v (%#x), want %v (%#x)", i, v, math.Float32bits(v), tt.want[i], math.Float32bits(tt.want[i]))
				}
			}
		})
	}

	t.Run("float16 NaN", func(t *testing.T) {
		g := &WeightGroup{Weights: []WeightSpec{{Name: "w", Dtype: "float32", Shape: []int{1}, Quantization: &Quantization{Dtype: "float16"}}}}
		ws, err := DecodeGroup(g, u16Bytes(0x7e00), nil)
		if err != nil {
			t.Fatal(err)
		}
		if v := ws["w"].Data[0]; !math.IsNaN(float64(v)) {
			t.Errorf("float16 0x7e00 = %v, want NaN", v)
		}
	})
	t.Run("shape is copied", func(t *testing.T) {
		g := &WeightGroup{Weights: []WeightSpec{{Name: "w", Dtype: "float32", Shape: []int{1}}}}
		ws, err := DecodeGroup(g, f32Bytes(1), nil)
		if err != nil {
			t.Fatal(err)
		}
		g.Weights[0].Shape[0] = 9
		if ws["w"].Shape[0] != 1 {
			t.Errorf("tensor shape follows the manifest after decoding: %v", ws["w"].Shape)
		}
	})
}

func TestDecodeGroupRejectsNonFiniteQuantization(t *testing.T) {
	for _, q := range []Quantization{
		{Dtype: "uint8", Min: f64(math.NaN()), Scale: f64(1)},
		{Dtype: "uint8", Min: f64(0), Scale: f64(math.Inf(1))},
		{Dtype: "uint16", Min: f64(math.Inf(-1)), Scale: f64(1)},
		{Dtype: "uint16", Min: f64(0)},
	} {
		g := &WeightGroup{Weights: []WeightSpec{{Name: "l/w", Dtype: "float32", Shape: []int{2}, Quantization: &q}}}
		_, err := DecodeGroup(g, make([]byte, 4), []string{"s.bin"})
		var we *WeightError
		if !errors.As(err, &we) || we.Weight != "l/w" {
			t.Errorf("DecodeGroup(min %v, scale %v) = %v, want a *WeightError for l/w", ptrString(q.Min), ptrString(q.Scale), err)
		}
	}
}

func ptrString(p *float64) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

func TestLoadQuantizedPReLU(t *testing.T) {
	// PReLU keeps its slopes as they were decoded, so the loaded values can
	// be read back from the graph.
	tests := []struct {
		name  string
		spec  string
		shard []byte
		want  []float32
	}{
		{"float32", `{"name":"p/alpha","shape":[1,1,3],"dtype":"float32"}`, f32Bytes(0.25, -1, 3), []float32{0.25, -1, 3}},
		{"uint8", `{"name":"p/alpha","shape":[1,1,3],"dtype":"float32","quantization":{"dtype":"uint8","min":-0.5,"scale":0.125,"original_dtype":"float32"}}`, []byte{0, 4, 255}, []float32{-0.5, 0, 31.375}},
		{"uint16", `{"name":"p/alpha","shape":[1,1,3],"dtype":"float32","quantization":{"dtype":"uint16","min":1,"scale":0.5}}`, u16Bytes(0, 1, 1000), []float32{1, 1.5, 501}},
		{"float16", `{"name":"p/alpha","shape":[1,1,3],"dtype":"float32","quantization":{"dtype":"float16"}}`, u16Bytes(0x3800, 0xbc00, 0x4248), []float32{0.5, -1, 3.140625}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topology := functional("p", inputLayer(3), layer("PReLU", "p", `{"name":"p","shared_axes":[1,2]}`, `[[["in",0,0,{}]]]`))
			files := fstest.MapFS{
				"model.json": {Data: []byte(modelJSON(topology, `[{"paths":["`+shardName+`"],"weights":[`+tt.spec+`]}]`))},
				shardName:    {Data: tt.shard},
			}
			m, err := LoadFS(files, "model.json", nil)
			if err != nil {
				t.Fatal(err)
			}
			p, ok := m.Graph.Output().Layer().(*nn.PReLU)
			if !ok {
				t.Fatalf("output layer is %T, want *nn.PReLU", m.Graph.Output().Layer())
			}
			if fmt.Sprint(p.Alpha) != fmt.Sprint(tt.want) {
				t.Errorf("alpha = %v, want %v", p.Alpha, tt.want)
			}
			if m.WeightBytes != int64(len(tt.shard)) {
				t.Errorf("WeightBytes = %d, want %d", m.WeightBytes, len(tt.shard))
			}
		})
	}
}

func TestLoadShardNameStartingWithDots(t *testing.T) {
	// "..w.bin" is an ordinary file name inside the model's folder.
	files := withJSON(t, convModel(), `"paths":["`+shardName+`"]`, `"paths":["..w.bin"]`)
	files["..w.bin"] = files[shardName]
	delete(files, shardName)
	if _, err := LoadFS(files, "model.json", nil); err != nil {
		t.Errorf("LoadFS with shard ..w.bin: %v", err)
	}
}

func TestLoadFileAndDir(t *testing.T) {
	dir := t.TempDir()
	for name, f := range convModel() {
		if err := os.WriteFile(filepath.Join(dir, name), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "model.json")
	in := testImage(3, 4, 2)
	want := sameConv(in, convKernel, 3, 2, convBias)

	m, err := LoadFile(file, nil)
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if m.File != file {
		t.Errorf("LoadFile: File = %q, want %q", m.File, file)
	}
	checkClose(t, "LoadFile output", run(t, m, in).Data, want, 1e-5)

	m, err = LoadDir(dir, nil)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	if m.File != file {
		t.Errorf("LoadDir: File = %q, want %q", m.File, file)
	}
	checkClose(t, "LoadDir output", run(t, m, in).Data, want, 1e-5)

	// A failed load names the file by the caller's path.
	if err := os.Remove(filepath.Join(dir, shardName)); err != nil {
		t.Fatal(err)
	}
	m, err = LoadFile(file, nil)
	var le *LoadError
	if m != nil || !errors.As(err, &le) || le.File != file {
		t.Errorf("LoadFile without shard = %v, %v; want a *LoadError for %s", m, err, file)
	}
}

func TestRegisterLayer(t *testing.T) {
	RegisterLayer("TestTimesFactor", func(cfg *LayerConfig) (nn.Layer, error) {
		var c struct {
			Factor float32 `json:"factor"`
		}
		if err := cfg.Decode(&c); err != nil {
			return nil, err
		}
		return &nn.Scale{ClassName: cfg.ClassName, Factor: c.Factor}, nil
	})
	model := func(class string) fstest.MapFS {
		return activationModel(1, "x", layer(class, "x", `{"name":"x","factor":3}`, `[[["in",0,0,{}]]]`))
	}
	in := &tensor.Tensor{Shape: []int{1, 2, 1}, Data: []float32{1, -2}}

	t.Run("registered", func(t *testing.T) {
		m, err := LoadFS(model("TestTimesFactor"), "model.json", nil)
		if err != nil {
			t.Fatal(err)
		}
		checkClose(t, "output", run(t, m, in).Data, []float64{3, -6}, 0)
	})

	halve := func(cfg *LayerConfig) (nn.Layer, error) {
		return &nn.Scale{ClassName: cfg.ClassName, Factor: 0.5}, nil
	}
	t.Run("per-load class", func(t *testing.T) {
		opts := &Options{Layers: map[string]LayerFunc{"TestHalve": halve}}
		m, err := LoadFS(model("TestHalve"), "model.json", opts)
		if err != nil {
			t.Fatal(err)
		}
		checkClose(t, "output", run(t, m, in).Data, []float64{0.5, -1}, 0)
		if _, err := LoadFS(model("TestHalve"), "model.json", nil); err == nil {
			t.Error("a per-load class is known to a later load without it")
		}
	})
	t.Run("per-load class overrides registered", func(t *testing.T) {
		opts := &Options{Layers: map[string]LayerFunc{"TestTimesFactor": halve}}
		m, err := LoadFS(model("TestTimesFactor"), "model.json", opts)
		if err != nil {
			t.Fatal(err)
		}
		checkClose(t, "output", run(t, m, in).Data, []float64{0.5, -1}, 0)
	})
	t.Run("layer function error names the layer", func(t *testing.T) {
		opts := &Options{Layers: map[string]LayerFunc{"TestBroken": func(*LayerConfig) (nn.Layer, error) {
			return nil, errors.New("broken on purpose")
		}}}
		_, err := LoadFS(model("TestBroken"), "model.json", opts)
		var le *nn.LayerError
		if !errors.As(err, &le) || le.Layer != "x" || le.Class != "TestBroken" {
			t.Errorf("LoadFS = %v, want an *nn.LayerError for x (TestBroken)", err)
		}
	})
	t.Run("PixelShuffle by pattern", func(t *testing.T) {
		m, err := LoadFS(activationModel(9, "ps", layer("PixelShuffle3x", "ps", "", `[[["in",0,0,{}]]]`)), "model.json", nil)
		if err != nil {
			t.Fatal(err)
		}
		if s := m.Graph.Scale(); s != 3 {
			t.Errorf("Scale() = %v, want 3", s)
		}
	})
}

// realModels lists every model of the UpscalerJS packages with its scale.
var realModels = []struct {
	pkg, path string
	scale     float64
}{
	{testfiles.DefaultModel, "models/model.json", 2},
	{testfiles.ESRGANSlim, "models/x2/model.json", 2},
	{testfiles.ESRGANSlim, "models/x3/model.json", 3},
	{testfiles.ESRGANSlim, "models/x4/model.json", 4},
	{testfiles.ESRGANSlim, "models/x8/model.json", 8},
	{testfiles.ESRGANMedium, "models/x2/model.json", 2},
	{testfiles.ESRGANMedium, "models/x4/model.json", 4},
	{testfiles.ESRGANMedium, "models/x8/model.json", 8},
	{testfiles.ESRGANLegacy, "models/div2k/x2/model.json", 2},
	{testfiles.ESRGANLegacy, "models/div2k/x3/model.json", 3},
	{testfiles.ESRGANLegacy, "models/div2k/x4/model.json", 4},
	{testfiles.ESRGANLegacy, "models/psnr-small/model.json", 2},
	{testfiles.ESRGANLegacy, "models/gans/model.json", 4},
	{testfiles.ESRGANThick, "models/x4/model.json", 4},
}

func TestLoadRealModels(t *testing.T) {
	for _, tt := range realModels {
		t.Run(strings.TrimSuffix(tt.pkg, ".tgz")+"/"+tt.path, func(t *testing.T) {
			if testing.Short() && tt.pkg == testfiles.ESRGANThick {
				t.Skip("esrgan-thick takes seconds to unpack")
			}
			p, err := OpenPackage(testfiles.Package(t, tt.pkg))
			if err != nil {
				t.Fatal(err)
			}
			m, err := p.Load(tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if s := m.Graph.Scale(); s != tt.scale {
				t.Errorf("Scale() = %v, want %v", s, tt.scale)
			}
			if m.Params <= 0 || m.WeightBytes < m.Params {
				t.Errorf("Params = %d, WeightBytes = %d; want Params > 0 and at least one byte each", m.Params, m.WeightBytes)
			}
			if got := m.Graph.Input().Shape().C; got != 3 {
				t.Errorf("input channels = %d, want 3", got)
			}
			cm, err := nn.Compile(m.Graph, nn.Options{})
			if err != nil {
				t.Fatal(err)
			}
			out, err := cm.OutputShape(8, 6)
			if err != nil {
				t.Fatal(err)
			}
			want := nn.Shape{H: int(8 * tt.scale), W: int(6 * tt.scale), C: 3}
			if out != want {
				t.Errorf("OutputShape(8, 6) = %v, want %v", out, want)
			}
		})
	}
}

func TestOpenPackage(t *testing.T) {
	tgz := testfiles.Package(t, testfiles.ESRGANSlim)
	dir := t.TempDir()
	extractTarball(t, tgz, dir)
	in := testImage(6, 5, 3)
	var outputs [][]float32
	for _, path := range []string{tgz, dir} {
		p, err := OpenPackage(path)
		if err != nil {
			t.Fatalf("OpenPackage(%s): %v", path, err)
		}
		if p.Name != "@upscalerjs/esrgan-slim" || p.Version != "1.0.0" {
			t.Errorf("OpenPackage(%s) = %s@%s, want @upscalerjs/esrgan-slim@1.0.0", path, p.Name, p.Version)
		}
		data, err := p.ReadFile("package.json")
		if err != nil || !strings.Contains(string(data), `"@upscalerjs/esrgan-slim"`) {
			t.Errorf("ReadFile(package.json) = %.40q, %v", data, err)
		}
		if _, err := p.ReadFile("absent.txt"); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("ReadFile(absent.txt) = %v, want fs.ErrNotExist", err)
		}
		m, err := p.Load("./models/x2/model.json", nil)
		if err != nil {
			t.Fatalf("Load from %s: %v", path, err)
		}
		if !strings.HasPrefix(m.File, path) || !strings.HasSuffix(m.File, "models/x2/model.json") {
			t.Errorf("File = %q, want the package path and the model path", m.File)
		}
		if m.Topology != "Functional" || m.KerasVersion != "2.10.0" {
			t.Errorf("Topology, KerasVersion = %q, %q; want Functional, 2.10.0", m.Topology, m.KerasVersion)
		}
		if m.WeightBytes != 4*m.Params {
			t.Errorf("WeightBytes = %d, want 4·Params = %d (float32 weights)", m.WeightBytes, 4*m.Params)
		}
		outputs = append(outputs, run(t, m, in).Data)
	}
	for i := range outputs[0] {
		if outputs[0][i] != outputs[1][i] {
			t.Fatalf("output %d from the tarball = %v, from the folder = %v", i, outputs[0][i], outputs[1][i])
		}
	}
}

// TestDecodeShardsSplits decodes one group cut into shards at every byte
// offset, with empty shards between, and expects what DecodeGroup gives
// for the joined bytes.
func TestDecodeShardsSplits(t *testing.T) {
	g := &WeightGroup{Weights: []WeightSpec{
		{Name: "a/w", Dtype: "float32", Shape: []int{3}},
		{Name: "b/w", Dtype: "float32", Shape: []int{0}},
		{Name: "c/w", Dtype: "float32", Shape: []int{2}, Quantization: &Quantization{Dtype: "uint16", Min: f64(-1), Scale: f64(0.5)}},
		{Name: "d/w", Dtype: "float32", Shape: []int{2}},
	}}
	data := append(append(f32Bytes(1.5, -2, 3.25), u16Bytes(2, 9)...), f32Bytes(7, -0.125)...)
	want, err := DecodeGroup(g, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i <= len(data); i++ {
		for j := i; j <= len(data); j++ {
			shards := [][]byte{data[:i], {}, data[i:j], data[j:]}
			got, err := decodeShards(g, shards, nil)
			if err != nil {
				t.Fatalf("shards cut at %d and %d: %v", i, j, err)
			}
			for name, w := range want {
				if fmt.Sprint(got[name].Data) != fmt.Sprint(w.Data) {
					t.Fatalf("shards cut at %d and %d: %s = %v, want %v", i, j, name, got[name].Data, w.Data)
				}
			}
		}
	}
	if _, err := decodeShards(g, [][]byte{data[:10], data[12:]}, nil); err == nil {
		t.Error("decodeShards with 2 bytes missing returned no error")
	}
}
