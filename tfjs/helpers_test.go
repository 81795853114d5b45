package tfjs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// This file builds small layers models in memory: model.json from string
// templates in the layout the TensorFlow.js converter writes, and weight
// shards encoded with encoding/binary.

// f32Bytes encodes values as a float32 weight shard does: little-endian
// IEEE 754 single precision.
func f32Bytes(values ...float32) []byte {
	b := make([]byte, 0, 4*len(values))
	for _, v := range values {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// i32Bytes encodes values as an int32 weight shard does.
func i32Bytes(values ...int32) []byte {
	b := make([]byte, 0, 4*len(values))
	for _, v := range values {
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	return b
}

// u16Bytes encodes uint16 values (quantized weights or float16 bit
// patterns) little-endian.
func u16Bytes(values ...uint16) []byte {
	b := make([]byte, 0, 2*len(values))
	for _, v := range values {
		b = binary.LittleEndian.AppendUint16(b, v)
	}
	return b
}

// ramp returns n distinct, exactly representable values start, start+step, ...
func ramp(n int, start, step float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = start + float32(i)*step
	}
	return v
}

// inputLayer returns a Keras 2 InputLayer of c channels named "in".
func inputLayer(c int) string {
	return fmt.Sprintf(`{"class_name":"InputLayer","name":"in","config":{"batch_input_shape":[null,null,null,%d],"dtype":"float32","sparse":false,"ragged":false,"name":"in"},"inbound_nodes":[]}`, c)
}

// convLayer returns a Keras 2 Conv2D layer with a k×k kernel and "same"
// padding that reads the layer from. extra is appended to its config.
func convLayer(name, from string, k, filters int, extra string) string {
	return fmt.Sprintf(`{"class_name":"Conv2D","name":%q,"config":{"name":%q,"trainable":true,"dtype":"float32","filters":%d,"kernel_size":[%d,%d],"strides":[1,1],"padding":"same","data_format":"channels_last","dilation_rate":[1,1],"groups":1,"activation":"linear","use_bias":true%s},"inbound_nodes":[[[%q,0,0,{}]]]}`,
		name, name, filters, k, k, extra, from)
}

// layer returns a layer of any class with the given config and inbound
// nodes (as JSON).
func layer(class, name, config, inbound string) string {
	if config == "" {
		config = fmt.Sprintf(`{"name":%q}`, name)
	}
	return fmt.Sprintf(`{"class_name":%q,"name":%q,"config":%s,"inbound_nodes":%s}`, class, name, config, inbound)
}

// functional returns the converter's modelTopology for a Keras 2 Functional
// model whose input is "in" and whose output is the layer out.
func functional(out string, layers ...string) string {
	return fmt.Sprintf(`{"keras_version":"2.10.0","backend":"tensorflow","model_config":{"class_name":"Functional","config":{"name":"model","layers":[%s],"input_layers":[["in",0,0]],"output_layers":[[%q,0,0]]}}}`,
		strings.Join(layers, ","), out)
}

// modelJSON returns a model.json with the given topology and manifest.
func modelJSON(topology, manifest string) string {
	return fmt.Sprintf(`{"format":"layers-model","generatedBy":"keras v2.10.0","convertedBy":"TensorFlow.js Converter v3.19.0","modelTopology":%s,"weightsManifest":%s}`, topology, manifest)
}

// weightSpec returns one manifest weight entry.
func weightSpec(name, shape, dtype string) string {
	return fmt.Sprintf(`{"name":%q,"shape":%s,"dtype":%q}`, name, shape, dtype)
}

// group returns one manifest group.
func group(paths []string, weights ...string) string {
	quoted := make([]string, len(paths))
	for i, p := range paths {
		quoted[i] = fmt.Sprintf("%q", p)
	}
	return fmt.Sprintf(`{"paths":[%s],"weights":[%s]}`, strings.Join(quoted, ","), strings.Join(weights, ","))
}

// Weights of the base test model: a 3×3 convolution from 2 to 2 channels.
var (
	convKernel = ramp(3*3*2*2, -0.5, 1.0/64)
	convBias   = []float32{0.25, -0.75}
)

const shardName = "group1-shard1of1.bin"

// convModel returns the files of the base test model, in → Conv2D "conv" (3×3,
// 2 → 2 channels, with bias), with its weights in one shard.
func convModel() fstest.MapFS {
	manifest := "[" + group([]string{shardName},
		weightSpec("conv/kernel", "[3,3,2,2]", "float32"),
		weightSpec("conv/bias", "[2]", "float32")) + "]"
	return fstest.MapFS{
		"model.json": {Data: []byte(modelJSON(functional("conv", inputLayer(2), convLayer("conv", "in", 3, 2, "")), manifest))},
		shardName:    {Data: append(f32Bytes(convKernel...), f32Bytes(convBias...)...)},
	}
}

// withJSON returns files with model.json edited by replacing old with new,
// which must occur in it.
func withJSON(t *testing.T, files fstest.MapFS, old, new string) fstest.MapFS {
	t.Helper()
	data := string(files["model.json"].Data)
	if !strings.Contains(data, old) {
		t.Fatalf("model.json does not contain %s", old)
	}
	out := cloneFS(files)
	out["model.json"] = &fstest.MapFile{Data: []byte(strings.Replace(data, old, new, 1))}
	return out
}

// cloneFS returns a copy of files whose entries can be replaced.
func cloneFS(files fstest.MapFS) fstest.MapFS {
	out := fstest.MapFS{}
	for k, v := range files {
		out[k] = v
	}
	return out
}

// tarEntry is one file of a test tarball. A nonzero size that differs from
// len(data) writes a header claiming size bytes, then ends the archive.
type tarEntry struct {
	name string
	data []byte
	size int64
}

// writeTarball writes a gzipped tarball of entries to a new file in dir
// and returns its path.
func writeTarball(t *testing.T, dir string, entries ...tarEntry) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	truncated := false
	for _, e := range entries {
		size := int64(len(e.data))
		if e.size != 0 {
			size = e.size
		}
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if size != int64(len(e.data)) {
			// The header is written; the data never will be.
			truncated = true
			break
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	// WriteHeader has already passed the header to the gzip stream, so a
	// truncated archive just ends here.
	if !truncated {
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(dir, "pkg-*.tgz")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// extractTarball unpacks an npm tarball's "package/" folder into dir with
// archive/tar, the way npm install lays a package out.
func extractTarball(t *testing.T, file, dir string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		name, ok := strings.CutPrefix(h.Name, "package/")
		if !ok || h.Typeflag != tar.TypeReg || strings.Contains(name, "..") {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(dst)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, tr); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
