package message_test

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/upscaler-go/upscaler/message"
	"github.com/upscaler-go/upscaler/tensor"
)

// ramp returns n float32 pixel values 0, 1, 2, ... wrapping at 256.
func ramp(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(i % 256)
	}
	return out
}

// rampBytes returns n byte values 0, 1, 2, ... wrapping at 256.
func rampBytes(n int) []uint8 {
	out := make([]uint8, n)
	for i := range out {
		out[i] = uint8(i)
	}
	return out
}

// encodePNG returns a real PNG file of a w×h gradient.
func encodePNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(x * 40), G: uint8(y * 40), B: 128, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatalf("png.Encode: %v", err)
	}
	return buf.Bytes()
}

type namedMessage struct {
	name string
	msg  message.Message
}

// sampleMessages returns one or more valid messages of every type.
func sampleMessages(t testing.TB) []namedMessage {
	fp32, err := tensor.FromData(ramp(2*3*3), 2, 3, 3)
	if err != nil {
		t.Fatalf("tensor.FromData: %v", err)
	}
	return []namedMessage{
		{"request/fp32", &message.Request{ID: "req-1", Tensor: message.FromTensor(fp32), Model: "esrgan-slim",
			Scale: 2, PatchSize: 64, Padding: 4}},
		{"request/uint8-auto-png", &message.Request{ID: "req-2", Tensor: message.FromUint8(rampBytes(2*2*4), 1, 2, 2, 4),
			Model: "esrgan-thick", Scale: 4, PatchSize: 32, Padding: message.PaddingAuto,
			Output: message.OutputPNG, ProgressPatches: true}},
		{"request/defaults", &message.Request{ID: "req-3", Tensor: message.FromUint8(rampBytes(3), 1, 1, 3)}},
		{"progress/plain", &message.Progress{ID: "req-1", Fraction: 0.25, Row: 0, Col: 1}},
		{"progress/patch", &message.Progress{ID: "req-2", Fraction: 1, Row: 3, Col: 2,
			Patch: &message.Tensor{Shape: []int{2, 2, 3}, DataType: message.FP32, Float32: []float32{0, 0.5, 1, 254.5, 255, 3e-3, 7, 8, 9, 10, 11, 12}}}},
		{"result/tensor", &message.Result{ID: "req-1", Tensor: message.FromUint8(rampBytes(4*6*3), 4, 6, 3)}},
		{"result/png", &message.Result{ID: "req-2", PNG: encodePNG(t, 3, 2)}},
		{"error/known-id", &message.Error{ID: "req-3", Kind: message.KindUnknownModel, Message: `model "nope" is not in the catalog`}},
		{"error/no-id", &message.Error{Kind: message.KindInvalid, Message: "frame header is not valid JSON"}},
		{"cancel", &message.Cancel{ID: "req-1"}},
	}
}

func TestValidateAcceptsSamples(t *testing.T) {
	for _, s := range sampleMessages(t) {
		t.Run(s.name, func(t *testing.T) {
			if err := message.Validate(s.msg, nil); err != nil {
				t.Errorf("Validate(%+v) = %v, want nil", s.msg, err)
			}
		})
	}
}

func TestValidateRejects(t *testing.T) {
	nan := ramp(2 * 2 * 3)
	nan[7] = float32(math.NaN())
	inf := ramp(2 * 2 * 3)
	inf[0] = float32(math.Inf(-1))
	img := func(shape ...int) *message.Tensor {
		n := 1
		for _, d := range shape {
			n *= max(d, 0)
		}
		return message.FromUint8(rampBytes(n), shape...)
	}
	tests := []struct {
		name string
		msg  message.Message
		kind message.ErrorKind
		text string // a fact the error must name
	}{
		{"nil request", (*message.Request)(nil), message.KindInvalid, "nil"},
		{"nil message", nil, message.KindInvalid, "<nil>"},
		{"empty id", &message.Request{Tensor: img(1, 1, 3)}, message.KindInvalid, "empty ID"},
		{"no tensor", &message.Request{ID: "a"}, message.KindInvalid, "no image"},
		{"nan", &message.Request{ID: "a", Tensor: &message.Tensor{Shape: []int{2, 2, 3}, DataType: message.FP32, Float32: nan}},
			message.KindInvalid, "element 7 (row 1, column 0, channel 1) is NaN"},
		{"inf", &message.Progress{ID: "a", Patch: &message.Tensor{Shape: []int{2, 2, 3}, DataType: message.FP32, Float32: inf}},
			message.KindInvalid, "element 0"},
		{"data short", &message.Request{ID: "a", Tensor: message.FromUint8(rampBytes(11), 2, 2, 3)}, message.KindInvalid, "11"},
		{"both slices", &message.Request{ID: "a", Tensor: &message.Tensor{Shape: []int{1, 1, 3}, DataType: message.UINT8,
			Uint8: rampBytes(3), Float32: ramp(3)}}, message.KindInvalid, "other datatype"},
		{"no datatype", &message.Request{ID: "a", Tensor: &message.Tensor{Shape: []int{1, 1, 3}, Uint8: rampBytes(3)}},
			message.KindInvalid, "DataType(0)"},
		{"rank 2", &message.Request{ID: "a", Tensor: img(4, 3)}, message.KindInvalid, "rank 2"},
		{"rank 5", &message.Request{ID: "a", Tensor: img(1, 1, 2, 2, 3)}, message.KindInvalid, "rank 5"},
		{"batch 2", &message.Request{ID: "a", Tensor: img(2, 2, 2, 3)}, message.KindInvalid, "batch size 2"},
		{"5 channels", &message.Request{ID: "a", Tensor: img(2, 2, 5)}, message.KindInvalid, "5 channels"},
		{"zero height", &message.Request{ID: "a", Tensor: img(0, 2, 3)}, message.KindInvalid, "[0 2 3]"},
		{"negative width", &message.Request{ID: "a", Tensor: img(2, -2, 3)}, message.KindInvalid, "[2 -2 3]"},
		{"negative scale", &message.Request{ID: "a", Tensor: img(1, 1, 3), Scale: -2}, message.KindInvalid, "-2"},
		{"negative patch", &message.Request{ID: "a", Tensor: img(1, 1, 3), PatchSize: -1}, message.KindInvalid, "-1"},
		{"padding -2", &message.Request{ID: "a", Tensor: img(1, 1, 3), Padding: -2}, message.KindInvalid, "-2"},
		{"output jpeg", &message.Request{ID: "a", Tensor: img(1, 1, 3), Output: "jpeg"}, message.KindInvalid, "jpeg"},
		{"fraction 2", &message.Progress{ID: "a", Fraction: 2}, message.KindInvalid, "2"},
		{"fraction nan", &message.Progress{ID: "a", Fraction: math.NaN()}, message.KindInvalid, "NaN"},
		{"negative row", &message.Progress{ID: "a", Row: -1}, message.KindInvalid, "-1"},
		{"result empty", &message.Result{ID: "a"}, message.KindInvalid, "neither"},
		{"result both", &message.Result{ID: "a", Tensor: img(1, 1, 3), PNG: []byte{1}}, message.KindInvalid, "both"},
		{"result empty png", &message.Result{ID: "a", PNG: []byte{}}, message.KindInvalid, "empty"},
		{"error no kind", &message.Error{ID: "a", Message: "x"}, message.KindInvalid, "no kind"},
		{"cancel no id", &message.Cancel{}, message.KindInvalid, "empty ID"},
		{"too many pixels", &message.Request{ID: "a", Tensor: &message.Tensor{Shape: []int{1 << 14, 1 << 14, 3}, DataType: message.UINT8}},
			message.KindTooLarge, "pixels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := message.Validate(tt.msg, nil)
			var de *message.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Validate(%s) = %v, want a *DecodeError", tt.name, err)
			}
			if de.Kind != tt.kind {
				t.Errorf("Validate(%s) kind = %q, want %q", tt.name, de.Kind, tt.kind)
			}
			if de.Fatal {
				t.Errorf("Validate(%s) Fatal = true, want false", tt.name)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("Validate(%s) = %q, want it to name %q", tt.name, err, tt.text)
			}
		})
	}
}

func TestDecodeErrorReply(t *testing.T) {
	err := message.Validate(&message.Request{ID: "r7", Tensor: message.FromUint8(rampBytes(4), 2, 2)}, nil)
	var de *message.DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("Validate(rank 2) = %v, want a *DecodeError", err)
	}
	got := de.Reply()
	if got.ID != "r7" || got.Kind != message.KindInvalid || got.Message != err.Error() {
		t.Errorf("Reply() = %+v, want ID r7, kind invalid, message %q", got, err)
	}
	if err := message.Validate(got, nil); err != nil {
		t.Errorf("Validate(Reply()) = %v, want nil", err)
	}
}

func TestToTensor(t *testing.T) {
	u8, err := message.FromUint8([]uint8{0, 128, 255}, 1, 1, 3).ToTensor()
	if err != nil {
		t.Fatalf("FromUint8(...).ToTensor() error = %v", err)
	}
	if want := []float32{0, 128, 255}; !reflect.DeepEqual(u8.Data, want) {
		t.Errorf("FromUint8(0 128 255).ToTensor().Data = %v, want %v", u8.Data, want)
	}

	src := &tensor.Tensor{Shape: []int{1, 1, 3}, Data: []float32{1, 2, 3}}
	f32, err := message.FromTensor(src).ToTensor()
	if err != nil {
		t.Fatalf("FromTensor(...).ToTensor() error = %v", err)
	}
	if &f32.Data[0] != &src.Data[0] {
		t.Errorf("FromTensor(t).ToTensor() copied the data, want it shared")
	}

	bad := &message.Tensor{Shape: []int{2, 2, 3}, DataType: message.FP32, Float32: []float32{1}}
	if _, err := bad.ToTensor(); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("ToTensor(shape [2 2 3], 1 value) error = %v, want tensor.ErrShape", err)
	}
	if _, err := (&message.Tensor{}).ToTensor(); err == nil {
		t.Errorf("ToTensor(zero Tensor) error = nil, want an error")
	}
}

func TestParseDataType(t *testing.T) {
	for _, dt := range []message.DataType{message.FP32, message.UINT8} {
		got, err := message.ParseDataType(dt.String())
		if err != nil || got != dt {
			t.Errorf("ParseDataType(%q) = %v, %v, want %v, nil", dt.String(), got, err, dt)
		}
	}
	for _, s := range []string{"INT64", "fp32", "BYTES", ""} {
		_, err := message.ParseDataType(s)
		var de *message.DecodeError
		if !errors.As(err, &de) || de.Kind != message.KindUnsupported {
			t.Errorf("ParseDataType(%q) error = %v, want a *DecodeError of kind unsupported", s, err)
		}
	}
}
