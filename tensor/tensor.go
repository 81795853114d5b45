package tensor

import (
	"errors"
	"fmt"
	"math"
)

// ErrShape is returned, wrapped, when a shape does not fit its data or the
// operation asked of it.
var ErrShape = errors.New("tensor: invalid shape")

// MaxElements is the largest element count a Tensor may hold. It keeps
// shape arithmetic far from integer overflow on every platform.
const MaxElements = math.MaxInt / 16

// Tensor is a dense, contiguous float32 array with a shape.
//
// The zero value is an empty tensor of rank 0 with no data. A Tensor does
// not guard its fields: callers that share one between goroutines must not
// write to it concurrently.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New returns a zeroed tensor of the given shape. It panics if a dimension
// is negative or the element count exceeds MaxElements; use Elements first
// to validate untrusted shapes.
func New(shape ...int) *Tensor {
	n, err := Elements(shape)
	if err != nil {
		panic(err)
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, n)}
}

// FromData wraps data in a tensor of the given shape without copying it.
// The element count of shape must equal len(data).
func FromData(data []float32, shape ...int) (*Tensor, error) {
	n, err := Elements(shape)
	if err != nil {
		return nil, err
	}
	if n != len(data) {
		return nil, fmt.Errorf("%w: shape %v has %d elements but data has %d", ErrShape, shape, n, len(data))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}, nil
}

// FromUint8 converts 8-bit values to a new float32 tensor of the given shape.
func FromUint8(data []uint8, shape ...int) (*Tensor, error) {
	n, err := Elements(shape)
	if err != nil {
		return nil, err
	}
	if n != len(data) {
		return nil, fmt.Errorf("%w: shape %v has %d elements but data has %d", ErrShape, shape, n, len(data))
	}
	f := make([]float32, n)
	for i, v := range data {
		f[i] = float32(v)
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: f}, nil
}

// Elements returns the number of elements of shape. It fails when a
// dimension is negative or the product exceeds MaxElements.
func Elements(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("%w: negative dimension in %v", ErrShape, shape)
		}
		if d != 0 && n > MaxElements/d {
			return 0, fmt.Errorf("%w: %v has more than %d elements", ErrShape, shape, MaxElements)
		}
		n *= d
	}
	return n, nil
}

// Len returns the number of elements.
func (t *Tensor) Len() int { return len(t.Data) }

// Rank returns the number of dimensions.
func (t *Tensor) Rank() int { return len(t.Shape) }

// Clone returns a deep copy of t.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// HWC returns the height, width and channels of an image tensor of shape
// [h, w, c] or [1, h, w, c]. Any other shape is an ErrShape error.
func (t *Tensor) HWC() (h, w, c int, err error) {
	switch {
	case len(t.Shape) == 3:
		return t.Shape[0], t.Shape[1], t.Shape[2], nil
	case len(t.Shape) == 4 && t.Shape[0] == 1:
		return t.Shape[1], t.Shape[2], t.Shape[3], nil
	}
	return 0, 0, 0, fmt.Errorf("%w: want [h, w, c] or [1, h, w, c], got %v", ErrShape, t.Shape)
}

// CheckFinite returns an error naming the first NaN or infinite element.
func (t *Tensor) CheckFinite() error {
	for i, v := range t.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("tensor: element %d is %v; values must be finite", i, v)
		}
	}
	return nil
}
