package nn

import (
	"context"
	"errors"
	"fmt"
	"unsafe"
)

// Concatenate joins its inputs along the channel axis. Inputs that the
// compiler placed in the output's buffer are already there and are not
// copied.
type Concatenate struct{}

func (*Concatenate) Class() string { return "Concatenate" }

func (*Concatenate) OutputShape(in []Shape) (Shape, error) {
	if len(in) < 2 {
		return Shape{}, fmt.Errorf("takes at least 2 inputs, got %d", len(in))
	}
	out := in[0]
	for _, s := range in[1:] {
		if s.H != out.H || s.W != out.W {
			return Shape{}, fmt.Errorf("inputs %v and %v differ in height or width", in[0], s)
		}
		out.C += s.C
	}
	return out, nil
}

func (*Concatenate) Forward(_ context.Context, _ *Env, in []View, out View) error {
	offset := 0
	for _, v := range in {
		if !inPlace(v, out, offset) {
			for p := range out.H * out.W {
				copy(out.Data[p*out.Stride+offset:p*out.Stride+offset+v.C], v.Pixel(p))
			}
		}
		offset += v.C
	}
	return nil
}

// inPlace reports whether v is the channel range at offset of out's buffer.
func inPlace(v, out View, offset int) bool {
	return v.Stride == out.Stride && len(v.Data) > 0 && len(out.Data) > offset &&
		unsafe.SliceData(v.Data) == &out.Data[offset]
}

// MergeOp selects the elementwise operation of a Merge layer.
type MergeOp uint8

// Merge operations, named as the Keras layers that perform them.
const (
	Add MergeOp = iota
	Subtract
	Multiply
	Average
	Maximum
	Minimum
)

var mergeNames = [...]string{"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}

// Merge combines inputs of equal shape elementwise.
type Merge struct {
	Op MergeOp
}

func (m *Merge) Class() string { return mergeNames[m.Op] }

func (m *Merge) OutputShape(in []Shape) (Shape, error) {
	if len(in) < 2 {
		return Shape{}, fmt.Errorf("takes at least 2 inputs, got %d", len(in))
	}
	if m.Op == Subtract && len(in) != 2 {
		return Shape{}, fmt.Errorf("takes exactly 2 inputs, got %d", len(in))
	}
	for _, s := range in[1:] {
		if s != in[0] {
			return Shape{}, fmt.Errorf("inputs have different shapes %v and %v", in[0], s)
		}
	}
	return in[0], nil
}

func (m *Merge) Forward(_ context.Context, _ *Env, in []View, out View) error {
	if len(in) < 2 {
		return errors.New("too few inputs")
	}
	for p := range out.H * out.W {
		d := out.Pixel(p)
		copy(d, in[0].Pixel(p))
		for _, v := range in[1:] {
			s := v.Pixel(p)
			switch m.Op {
			case Add, Average:
				for c := range d {
					d[c] += s[c]
				}
			case Subtract:
				for c := range d {
					d[c] -= s[c]
				}
			case Multiply:
				for c := range d {
					d[c] *= s[c]
				}
			case Maximum:
				for c := range d {
					d[c] = max(d[c], s[c])
				}
			case Minimum:
				for c := range d {
					d[c] = min(d[c], s[c])
				}
			}
		}
		if m.Op == Average {
			// Multiply by the reciprocal, as TensorFlow.js does.
			r := 1 / float32(len(in))
			for c := range d {
				d[c] *= r
			}
		}
	}
	return nil
}

// Scale multiplies its input by a constant. The RRDN models' MultiplyBeta
// layer is a Scale by 0.2.
type Scale struct {
	ClassName string
	Factor    float32
}

func (s *Scale) Class() string { return s.ClassName }

func (s *Scale) OutputShape(in []Shape) (Shape, error) { return oneInput(in) }

func (s *Scale) Forward(_ context.Context, _ *Env, in []View, out View) error {
	for p := range out.H * out.W {
		src, d := in[0].Pixel(p), out.Pixel(p)
		for c, v := range src {
			d[c] = v * s.Factor
		}
	}
	return nil
}
