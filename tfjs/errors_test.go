package tfjs

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/upscaler-go/upscaler/nn"
)

// errorCheck inspects the error of a load that must fail.
type errorCheck func(t *testing.T, err error)

// weightError wants a *WeightError for the named weight ("" for a whole
// group) that lists file among its shards.
func weightError(weight, file string) errorCheck {
	return func(t *testing.T, err error) {
		t.Helper()
		var we *WeightError
		if !errors.As(err, &we) {
			t.Fatalf("error %v is not a *WeightError", err)
		}
		if we.Weight != weight {
			t.Errorf("WeightError.Weight = %q, want %q", we.Weight, weight)
		}
		if !slices.Contains(we.Files, file) {
			t.Errorf("WeightError.Files = %v, want it to contain %q", we.Files, file)
		}
	}
}

// layerError wants an *nn.LayerError for the named layer and class.
func layerError(name, class string) errorCheck {
	return func(t *testing.T, err error) {
		t.Helper()
		var le *nn.LayerError
		if !errors.As(err, &le) {
			t.Fatalf("error %v is not an *nn.LayerError", err)
		}
		if le.Layer != name || le.Class != class {
			t.Errorf("LayerError names layer %q (%s), want %q (%s)", le.Layer, le.Class, name, class)
		}
	}
}

// isError wants an error that wraps target.
func isError(target error) errorCheck {
	return func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Errorf("error %v does not wrap %v", err, target)
		}
	}
}

// mentions wants the message to name the offending value, so a user can
// find it. Only this fragment is matched, never the whole message.
func mentions(fragment string) errorCheck {
	return func(t *testing.T, err error) {
		t.Helper()
		if !strings.Contains(err.Error(), fragment) {
			t.Errorf("error %q does not name %q", err, fragment)
		}
	}
}

func all(checks ...errorCheck) errorCheck {
	return func(t *testing.T, err error) {
		t.Helper()
		for _, c := range checks {
			c(t, err)
		}
	}
}

// activationModel returns the files of a weightless model built from the
// given layers (after the input layer "in" of c channels) with output out.
func activationModel(c int, out string, layers ...string) fstest.MapFS {
	return fstest.MapFS{"model.json": {Data: []byte(modelJSON(functional(out, append([]string{inputLayer(c)}, layers...)...), "[]"))}}
}

func reluLayer(name, from string) string {
	return layer("Activation", name, `{"activation":"relu"}`, `[[["`+from+`",0,0,{}]]]`)
}

func TestLoadFSRejectsBadModels(t *testing.T) {
	base := convModel()
	shard := base[shardName].Data
	biasSpec := `{"name":"conv/bias","shape":[2],"dtype":"float32"}`
	inbound := `[[["in",0,0,{}]]]`

	tests := []struct {
		name  string
		files func(t *testing.T) fstest.MapFS
		check errorCheck
	}{
		{
			name: "truncated shard",
			files: func(t *testing.T) fstest.MapFS {
				f := cloneFS(base)
				f[shardName] = &fstest.MapFile{Data: shard[:len(shard)-3]}
				return f
			},
			check: weightError("conv/bias", shardName),
		},
		{
			name: "missing shard file",
			files: func(t *testing.T) fstest.MapFS {
				f := cloneFS(base)
				delete(f, shardName)
				return f
			},
			check: all(isError(fs.ErrNotExist), mentions(shardName)),
		},
		{
			name: "shard with extra bytes",
			files: func(t *testing.T) fstest.MapFS {
				f := cloneFS(base)
				f[shardName] = &fstest.MapFile{Data: append(slices.Clone(shard), 0, 0, 0, 0)}
				return f
			},
			check: weightError("", shardName),
		},
		{
			name: "manifest claims more bytes than the shard holds",
			files: func(t *testing.T) fstest.MapFS {
				return withJSON(t, base, `"shape":[3,3,2,2]`, `"shape":[3,3,2,3]`)
			},
			check: all(weightError("conv/kernel", shardName), mentions("truncated")),
		},
		{
			name: "manifest claims fewer bytes than the shard holds",
			files: func(t *testing.T) fstest.MapFS {
				return withJSON(t, base, `"shape":[2]`, `"shape":[1]`)
			},
			check: weightError("", shardName),
		},
		{
			name: "negative dimension in weight shape",
			files: func(t *testing.T) fstest.MapFS {
				return withJSON(t, base, `"shape":[2]`, `"shape":[-2]`)
			},
			check: weightError("conv/bias", shardName),
		},
		{
			name: "unknown weight dtype",
			files: func(t *testing.T) fstest.MapFS {
				return withJSON(t, base, biasSpec, `{"name":"conv/bias","shape":[2],"dtype":"float64"}`)
			},
			check: all(weightError("conv/bias", shardName), mentions("float64")),
		},
		{
			name: "unknown quantization dtype",
			files: func(t *testing.T) fstest.MapFS {
				return withJSON(t, base, biasSpec, `{"name":"conv/bias","shape":[2],"dtype":"float32","quantization":{"dtype":"int4","min":0,"scale":1}}`)
			},
			check: all(weightError("conv/bias", shardName), mentions("int4")),
		},
		{
			name: "uint8 quantization without min and scale",
			files: func(t *testing.T) fstest.MapFS {
				f := withJSON(t, base, biasSpec, `{"name":"conv/bias","shape":[2],"dtype":"float32","quantization":{"dtype":"uint8","original_dtype":"float32"}}`)
				f[shardName] = &fstest.MapFile{Data: append(f32Bytes(convKernel...), 7, 9)}
				return f
			},
			check: all(weightError("conv/bias", shardName), mentions("min")),
		},
		{
			name: "quantization scale out of float64 range",
			files: func(t *testing.T) fstest.MapFS {
				f := withJSON(t, base, biasSpec, `{"name":"conv/bias","shape":[2],"dtype":"float32","quantization":{"dtype":"uint16","min":0,"scale":1e999}}`)
				f[shardName] = &fstest.MapFile{Data: append(f32Bytes(convKernel...), u16Bytes(7, 9)...)}
				return f
			},
			check: mentions("scale"),
		},
		{
			name: "weight listed twice",
			files: func(t *testing.T) fstest.MapFS {
				f := withJSON(t, base, biasSpec, biasSpec+","+biasSpec)
				f[shardName] = &fstest.MapFile{Data: append(slices.Clone(shard), f32Bytes(convBias...)...)}
				return f
			},
			check: weightError("conv/bias", shardName),
		},
		{
			name: "inbound node names no layer",
			files: func(t *testing.T) fstest.MapFS {
				return withJSON(t, base, `[[["in",0,0,{}]]]`, `[[["nowhere",0,0,{}]]]`)
			},
			check: all(layerError("conv", "Conv2D"), mentions("nowhere")),
		},
		{
			// Layer "a" reads "b", which is defined after it and reads "a".
			// The loader requires layers in topological order, as Keras
			// writes them, so it reports the forward reference.
			name: "cycle",
			files: func(*testing.T) fstest.MapFS {
				return activationModel(2, "b", reluLayer("a", "b"), reluLayer("b", "a"))
			},
			check: all(layerError("a", "Activation"), mentions(`"b"`)),
		},
		{
			name: "unknown layer class",
			files: func(*testing.T) fstest.MapFS {
				return activationModel(2, "f", layer("FancyAttention", "f", "", inbound))
			},
			check: all(layerError("f", "FancyAttention"), mentions("RegisterLayer")),
		},
		{
			name: "Lambda layer",
			files: func(*testing.T) fstest.MapFS {
				return activationModel(2, "l", layer("Lambda", "l", `{"name":"l","function":["4wEAAAAA","",null]}`, inbound))
			},
			check: layerError("l", "Lambda"),
		},
		{
			name: "conv kernel in-channels differ from input channels",
			files: func(t *testing.T) fstest.MapFS {
				return withJSON(t, base, `"batch_input_shape":[null,null,null,2]`, `"batch_input_shape":[null,null,null,3]`)
			},
			check: all(layerError("conv", "Conv2D"), mentions("3")),
		},
		{
			name: "Add of different channel counts",
			files: func(*testing.T) fstest.MapFS {
				return activationModel(2, "add",
					layer("Concatenate", "cat", `{"name":"cat","axis":-1}`, `[[["in",0,0,{}],["in",0,0,{}]]]`),
					layer("Add", "add", "", `[[["in",0,0,{}],["cat",0,0,{}]]]`))
			},
			check: layerError("add", "Add"),
		},
		{
			name: "missing bias with use_bias true",
			files: func(t *testing.T) fstest.MapFS {
				f := withJSON(t, base, ","+biasSpec, "")
				f[shardName] = &fstest.MapFile{Data: f32Bytes(convKernel...)}
				return f
			},
			check: all(layerError("conv", "Conv2D"), mentions("conv/bias")),
		},
		{
			name: "kernel shape differs from kernel_size",
			files: func(t *testing.T) fstest.MapFS {
				return withJSON(t, base, `"kernel_size":[3,3]`, `"kernel_size":[5,5]`)
			},
			check: layerError("conv", "Conv2D"),
		},
		{
			name: "unknown activation",
			files: func(t *testing.T) fstest.MapFS {
				return withJSON(t, base, `"activation":"linear"`, `"activation":"mish"`)
			},
			check: all(layerError("conv", "Conv2D"), isError(nn.ErrUnsupported), mentions("mish")),
		},
		{
			name: "channels_first data format",
			files: func(t *testing.T) fstest.MapFS {
				return withJSON(t, base, `"data_format":"channels_last"`, `"data_format":"channels_first"`)
			},
			check: all(layerError("conv", "Conv2D"), isError(nn.ErrUnsupported)),
		},
		{
			name: "shard path escapes the folder",
			files: func(t *testing.T) fstest.MapFS {
				return withJSON(t, base, `"paths":["`+shardName+`"]`, `"paths":["../x.bin"]`)
			},
			check: mentions("../x.bin"),
		},
		{
			name: "graph model",
			files: func(t *testing.T) fstest.MapFS {
				return withJSON(t, base, `"format":"layers-model"`, `"format":"graph-model"`)
			},
			check: mentions("graph-model"),
		},
		{
			name: "invalid JSON",
			files: func(*testing.T) fstest.MapFS {
				data := base["model.json"].Data
				return fstest.MapFS{"model.json": {Data: data[:len(data)/2]}}
			},
			check: func(t *testing.T, err error) {
				t.Helper()
				var se *json.SyntaxError
				if !errors.As(err, &se) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("error %v is neither a *json.SyntaxError nor io.ErrUnexpectedEOF", err)
				}
			},
		},
		{
			name: "missing modelTopology",
			files: func(*testing.T) fstest.MapFS {
				return fstest.MapFS{"model.json": {Data: []byte(`{"format":"layers-model","weightsManifest":[]}`)}}
			},
			check: mentions("modelTopology"),
		},
		{
			name: "topology class is not a model",
			files: func(t *testing.T) fstest.MapFS {
				return withJSON(t, base, `"class_name":"Functional"`, `"class_name":"Conv2D"`)
			},
			check: mentions("Conv2D"),
		},
		{
			name: "output names no layer",
			files: func(t *testing.T) fstest.MapFS {
				return withJSON(t, base, `"output_layers":[["conv",0,0]]`, `"output_layers":[["gone",0,0]]`)
			},
			check: mentions("gone"),
		},
		{
			name: "two outputs",
			files: func(t *testing.T) fstest.MapFS {
				return withJSON(t, base, `"output_layers":[["conv",0,0]]`, `"output_layers":[["conv",0,0],["in",0,0]]`)
			},
			check: mentions("outputs"),
		},
		{
			name: "input without channel count",
			files: func(t *testing.T) fstest.MapFS {
				return withJSON(t, base, `"batch_input_shape":[null,null,null,2]`, `"batch_input_shape":[null,null,null,null]`)
			},
			check: layerError("in", "InputLayer"),
		},
		{
			name: "two layers with one name",
			files: func(*testing.T) fstest.MapFS {
				return activationModel(2, "a", reluLayer("a", "in"), reluLayer("a", "in"))
			},
			check: layerError("a", "Activation"),
		},
		{
			name: "missing model.json",
			files: func(*testing.T) fstest.MapFS {
				return fstest.MapFS{shardName: {Data: shard}}
			},
			check: all(isError(fs.ErrNotExist), mentions("model.json")),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := LoadFS(tt.files(t), "model.json", nil)
			if m != nil {
				t.Errorf("LoadFS returned a model (%d params) with error %v", m.Params, err)
			}
			if err == nil {
				t.Fatal("LoadFS returned no error")
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %v is not a *LoadError", err)
			}
			if le.File != "model.json" {
				t.Errorf("LoadError.File = %q, want %q", le.File, "model.json")
			}
			tt.check(t, err)
		})
	}
}

func TestOpenPackageRejectsBadTarballs(t *testing.T) {
	dir := t.TempDir()
	packageJSON := []byte(`{"name":"@example/model","version":"1.0.0"}`)
	tests := []struct {
		name    string
		entries []tarEntry
		check   errorCheck
	}{
		{
			name: "entry escapes its folder",
			entries: []tarEntry{
				{name: "package/package.json", data: packageJSON},
				{name: "package/../../evil", data: []byte("x")},
			},
			check: mentions("package/../../evil"),
		},
		{
			// The cleaned name "other/x.bin" would pass for the package's
			// own "x.bin".
			name: "entry climbs into a sibling folder",
			entries: []tarEntry{
				{name: "package/package.json", data: packageJSON},
				{name: "package/../other/x.bin", data: []byte("x")},
			},
			check: mentions("package/../other/x.bin"),
		},
		{
			name: "absolute entry",
			entries: []tarEntry{
				{name: "/etc/evil", data: []byte("x")},
				{name: "package/package.json", data: packageJSON},
			},
			check: mentions("/etc/evil"),
		},
		{
			// The header claims 2 GiB and no data follows: the size alone
			// must stop the read, before any allocation.
			name: "entry too large",
			entries: []tarEntry{
				{name: "package/package.json", size: 2 << 30},
			},
			check: func(t *testing.T, err error) {
				t.Helper()
				mentions("package/package.json")(t, err)
				if errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("error %v comes from reading the data, not from the size in the header", err)
				}
			},
		},
		{
			name:    "missing package.json",
			entries: []tarEntry{{name: "package/README.md", data: []byte("x")}},
			check:   mentions("package.json"),
		},
		{
			name:    "package.json is not JSON",
			entries: []tarEntry{{name: "package/package.json", data: []byte("{")}},
			check:   mentions("package.json"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeTarball(t, dir, tt.entries...)
			p, err := OpenPackage(file)
			if p != nil {
				t.Errorf("OpenPackage(%s) returned a package %+v", file, p)
			}
			if err == nil {
				t.Fatalf("OpenPackage(%s) returned no error", file)
			}
			tt.check(t, err)
		})
	}

	t.Run("not a tarball", func(t *testing.T) {
		file := dir + "/plain.tgz"
		if err := os.WriteFile(file, []byte("not gzip"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenPackage(file); err == nil {
			t.Errorf("OpenPackage(%s) returned no error", file)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := OpenPackage(dir + "/absent.tgz")
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("OpenPackage(absent) = %v, want fs.ErrNotExist", err)
		}
	})
}

func TestPackageLoadRejectsBadPaths(t *testing.T) {
	dir := t.TempDir()
	files := convModel()
	file := writeTarball(t, dir,
		tarEntry{name: "package/package.json", data: []byte(`{"name":"@example/model","version":"1.0.0"}`)},
		tarEntry{name: "package/models/model.json", data: files["model.json"].Data},
		tarEntry{name: "package/models/" + shardName, data: files[shardName].Data},
	)
	p, err := OpenPackage(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"../models/model.json", "/models/model.json", "models/absent.json", "package.json"} {
		m, err := p.Load(name, nil)
		if m != nil || err == nil {
			t.Errorf("Load(%q) = %v, %v; want an error", name, m, err)
			continue
		}
		var le *LoadError
		if !errors.As(err, &le) || !strings.Contains(le.File, file) {
			t.Errorf("Load(%q) error %v does not name the package %s", name, err, file)
		}
	}
	if _, err := p.Load("models/model.json", nil); err != nil {
		t.Errorf("Load(models/model.json) = %v", err)
	}
}
