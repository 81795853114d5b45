package message_test

import (
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/upscaler-go/upscaler/message"
)

// messageTensors returns the tensors a message carries.
func messageTensors(m message.Message) []*message.Tensor {
	switch m := m.(type) {
	case *message.Request:
		return []*message.Tensor{m.Tensor}
	case *message.Progress:
		if m.Patch != nil {
			return []*message.Tensor{m.Patch}
		}
	case *message.Result:
		if m.Tensor != nil {
			return []*message.Tensor{m.Tensor}
		}
	}
	return nil
}

// asFP32 returns t with UINT8 data converted to FP32.
func asFP32(t *message.Tensor) *message.Tensor {
	if t.DataType == message.FP32 {
		return t
	}
	f := make([]float32, len(t.Uint8))
	for i, v := range t.Uint8 {
		f[i] = float32(v)
	}
	return &message.Tensor{Shape: t.Shape, DataType: message.FP32, Float32: f}
}

func TestJSONRoundTrip(t *testing.T) {
	for _, s := range sampleMessages(t) {
		for _, tn := range messageTensors(s.msg) {
			t.Run(s.name, func(t *testing.T) {
				js, err := message.MarshalJSON(tn)
				if err != nil {
					t.Fatalf("MarshalJSON(%v %v) error = %v", tn.DataType, tn.Shape, err)
				}
				got, err := message.UnmarshalJSON(js, nil)
				if err != nil {
					t.Fatalf("UnmarshalJSON(%.80s) error = %v", js, err)
				}
				if want := asFP32(tn); !reflect.DeepEqual(got, want) {
					t.Errorf("UnmarshalJSON(MarshalJSON(t)) = %+v, want %+v", got, want)
				}
			})
		}
	}
}

func TestMarshalJSON(t *testing.T) {
	tn := &message.Tensor{Shape: []int{1, 2, 3}, DataType: message.FP32, Float32: []float32{0, 255, 0.5, 1e-5, -1, 0.1}}
	got, err := message.MarshalJSON(tn)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"data":[0,255,0.5,1e-05,-1,0.1],"shape":[1,2,3]}`
	if string(got) != want {
		t.Errorf("MarshalJSON(%v) = %s, want %s", tn.Float32, got, want)
	}

	tn.Float32[3] = float32(nan())
	var de *message.DecodeError
	if _, err := message.MarshalJSON(tn); !errors.As(err, &de) || !strings.Contains(err.Error(), "element 3") {
		t.Errorf("MarshalJSON(NaN at 3) error = %v, want a *DecodeError naming element 3", err)
	}
	if _, err := message.MarshalJSON(nil); err == nil {
		t.Errorf("MarshalJSON(nil) error = nil, want an error")
	}
}

func nan() float64 {
	var zero float64
	return zero / zero
}

func TestUnmarshalJSON(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		shape []int
		data  []float32
	}{
		{"hwc", `{"data":[1,2,3,4,5,6],"shape":[1,2,3]}`, []int{1, 2, 3}, []float32{1, 2, 3, 4, 5, 6}},
		{"nhwc", `{"shape":[1,1,1,4],"data":[0.5,255,1e2,0]}`, []int{1, 1, 1, 4}, []float32{0.5, 255, 100, 0}},
		{"extra field", ` {"data":[9,8,7],"shape":[1,1,3],"dtype":"uint8"} `, []int{1, 1, 3}, []float32{9, 8, 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := message.UnmarshalJSON([]byte(tt.in), nil)
			if err != nil {
				t.Fatalf("UnmarshalJSON(%s) error = %v", tt.in, err)
			}
			want := &message.Tensor{Shape: tt.shape, DataType: message.FP32, Float32: tt.data}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("UnmarshalJSON(%s) = %+v, want %+v", tt.in, got, want)
			}
		})
	}
}

func TestUnmarshalJSONRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
		kind message.ErrorKind
		text string // a fact the error must name
	}{
		{"empty", ``, message.KindInvalid, "JSON"},
		{"not json", `{"data":[1,2,3],`, message.KindInvalid, "JSON"},
		{"array", `[1,2,3]`, message.KindInvalid, "JSON"},
		{"null", `null`, message.KindInvalid, "no \"shape\""},
		{"no shape", `{"data":[1,2,3]}`, message.KindInvalid, "no \"shape\""},
		{"no data", `{"shape":[1,1,3]}`, message.KindInvalid, "data has 0"},
		{"short data", `{"data":[1,2],"shape":[1,1,3]}`, message.KindInvalid, "data has 2"},
		{"long data", `{"data":[1,2,3,4],"shape":[1,1,3]}`, message.KindInvalid, "data has 4"},
		{"string value", `{"data":[1,"2",3],"shape":[1,1,3]}`, message.KindInvalid, "string"},
		{"float32 overflow", `{"data":[1,1e39,3],"shape":[1,1,3]}`, message.KindInvalid, "1e39"},
		{"rank 2", `{"data":[1,2,3],"shape":[1,3]}`, message.KindInvalid, "rank 2"},
		{"rank 5", `{"data":[1,2,3],"shape":[1,1,1,1,3]}`, message.KindInvalid, "rank 5"},
		{"batch 2", `{"data":[1,2,3,4,5,6],"shape":[2,1,1,3]}`, message.KindInvalid, "batch size 2"},
		{"5 channels", `{"data":[1,2,3,4,5],"shape":[1,1,5]}`, message.KindInvalid, "5 channels"},
		{"zero dimension", `{"data":[],"shape":[0,1,3]}`, message.KindInvalid, "[0 1 3]"},
		{"fractional dimension", `{"data":[1,2,3],"shape":[1,1.5,3]}`, message.KindInvalid, "JSON"},
		{"huge shape", `{"data":[1,2,3],"shape":[1000000,1000000,3]}`, message.KindTooLarge, "1000000×1000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := message.UnmarshalJSON([]byte(tt.in), nil)
			var de *message.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("UnmarshalJSON(%s) = %+v, %v, want a *DecodeError", tt.in, got, err)
			}
			if de.Kind != tt.kind {
				t.Errorf("UnmarshalJSON(%s) kind = %q, want %q", tt.in, de.Kind, tt.kind)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("UnmarshalJSON(%s) error = %q, want it to name %q", tt.in, err, tt.text)
			}
		})
	}
}

// TestUnmarshalJSONLimitBeforeAlloc checks that a shape over the limits is
// rejected before the data array is allocated.
func TestUnmarshalJSONLimitBeforeAlloc(t *testing.T) {
	tests := []struct {
		name string
		in   string
		lim  *message.Limits
		kind message.ErrorKind
	}{
		{"over MaxPixels", `{"data":[1,2,3],"shape":[1,8000,8000,4]}`, &message.Limits{MaxPixels: 1 << 20}, message.KindTooLarge},
		// Within the default limits, the shape requires 1 GiB of FP32
		// data that the input cannot contain.
		{"shape beyond data", `{"data":[1,2,3],"shape":[8192,8192,4]}`, nil, message.KindInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := message.UnmarshalJSON([]byte(tt.in), tt.lim)
			runtime.ReadMemStats(&after)
			var de *message.DecodeError
			if !errors.As(err, &de) || de.Kind != tt.kind {
				t.Fatalf("UnmarshalJSON(%s) error = %v, want kind %s", tt.in, err, tt.kind)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<10 {
				t.Errorf("UnmarshalJSON(%s) allocated %d bytes, want under 64 KiB", tt.in, alloc)
			}
		})
	}
}
