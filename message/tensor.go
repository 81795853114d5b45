package message

import (
	"fmt"

	"github.com/upscaler-go/upscaler/tensor"
)

// DataType is the element type of a tensor in a message. Its String values
// are the datatype names of the Open Inference Protocol.
type DataType uint8

// Supported datatypes. The zero DataType is invalid.
const (
	// FP32 is a 32-bit IEEE 754 float, little-endian on the wire.
	FP32 DataType = iota + 1

	// UINT8 is an unsigned byte.
	UINT8
)

// String returns "FP32" or "UINT8", or a description of an invalid value.
func (d DataType) String() string {
	switch d {
	case FP32:
		return "FP32"
	case UINT8:
		return "UINT8"
	}
	return fmt.Sprintf("DataType(%d)", uint8(d))
}

// Size returns the number of bytes of one element, or 0 for an invalid
// DataType.
func (d DataType) Size() int {
	switch d {
	case FP32:
		return 4
	case UINT8:
		return 1
	}
	return 0
}

// ParseDataType returns the DataType named s ("FP32" or "UINT8"). Other
// Open Inference Protocol names, such as "INT64", return a *DecodeError of
// kind KindUnsupported.
func ParseDataType(s string) (DataType, error) {
	switch s {
	case "FP32":
		return FP32, nil
	case "UINT8":
		return UINT8, nil
	}
	return 0, &DecodeError{Kind: KindUnsupported,
		Err: fmt.Errorf("datatype %q is not supported; use \"FP32\" or \"UINT8\"", s)}
}

// Tensor is an image tensor as a message carries it: a shape, a datatype and
// the data in the Go slice of that datatype. Float32 holds the data of an
// FP32 tensor and Uint8 the data of a UINT8 tensor. The other slice is nil.
//
// Shapes are [height, width, channels] or [1, height, width, channels] in
// row-major NHWC order, as in package tensor. Validate checks a Tensor.
//
// Messages never copy tensor data: a Tensor built by FromTensor or
// FromUint8 aliases the caller's slice, and a decoded Tensor may alias the
// decoder's input (see DecodeFrame).
type Tensor struct {
	Shape    []int
	DataType DataType
	Float32  []float32
	Uint8    []uint8
}

// FromTensor returns an FP32 Tensor that shares t's shape and data, or nil
// when t is nil.
func FromTensor(t *tensor.Tensor) *Tensor {
	if t == nil {
		return nil
	}
	return &Tensor{Shape: t.Shape, DataType: FP32, Float32: t.Data}
}

// FromUint8 returns a UINT8 Tensor of the given shape that shares data, for
// example the RGBA bytes of an image.NRGBA with shape [h, w, 4].
func FromUint8(data []uint8, shape ...int) *Tensor {
	return &Tensor{Shape: shape, DataType: UINT8, Uint8: data}
}

// Len returns the number of elements in the data slice of t's datatype.
func (t *Tensor) Len() int {
	switch t.DataType {
	case FP32:
		return len(t.Float32)
	case UINT8:
		return len(t.Uint8)
	}
	return 0
}

// ToTensor returns t as a float32 tensor.Tensor with values 0..255. An FP32
// Tensor shares its data and shape; a UINT8 Tensor is converted into new
// memory. It fails when the shape does not match the data.
func (t *Tensor) ToTensor() (*tensor.Tensor, error) {
	switch t.DataType {
	case FP32:
		n, err := tensor.Elements(t.Shape)
		if err != nil {
			return nil, fmt.Errorf("message: convert tensor: %w", err)
		}
		if n != len(t.Float32) {
			return nil, fmt.Errorf("message: convert tensor: %w: shape %v has %d elements but data has %d",
				tensor.ErrShape, t.Shape, n, len(t.Float32))
		}
		return &tensor.Tensor{Shape: t.Shape, Data: t.Float32}, nil
	case UINT8:
		out, err := tensor.FromUint8(t.Uint8, t.Shape...)
		if err != nil {
			return nil, fmt.Errorf("message: convert tensor: %w", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("message: convert tensor: invalid datatype %v; use FP32 or UINT8", t.DataType)
}
