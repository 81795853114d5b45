package nn

import (
	"context"
	"errors"
	"fmt"
)

// Layer is one operation of a graph. Built-in layers live in this package;
// callers add their own by implementing Layer.
//
// A Layer is shared by every call of the compiled model, possibly at the same
// time, so Forward must not modify the layer.
type Layer interface {
	// Class returns the layer's class name, such as "Conv2D", for errors.
	Class() string
	// OutputShape returns the output shape for the given input shapes, or an
	// error when the inputs do not fit. It is called when the graph is built,
	// with Dynamic heights and widths, and again for every call, with the
	// concrete sizes; a Dynamic input size must give a Dynamic output size.
	OutputShape(in []Shape) (Shape, error)
	// Forward computes the output from the inputs. The inputs and the output
	// have the shapes OutputShape promised and may be strided; the output
	// never overlaps an input. Forward must write every element of out.
	Forward(ctx context.Context, env *Env, in []View, out View) error
}

// Footprinter is implemented by layers that read a neighbourhood of pixels
// or change the resolution. Layers without it are taken to be pointwise.
type Footprinter interface {
	Footprint() Footprint
}

// Footprint describes how far a layer reaches across space.
type Footprint struct {
	// Radius is how many input pixels, on each side, one output pixel
	// depends on.
	Radius float64
	// Scale is the output size divided by the input size along each axis.
	Scale float64
}

// ErrUnsupported is wrapped by errors for layer configurations this package
// cannot run.
var ErrUnsupported = errors.New("unsupported")

// LayerError reports a problem with one layer of a graph.
type LayerError struct {
	Layer string // layer name
	Class string // layer class
	Err   error
}

func (e *LayerError) Error() string {
	return fmt.Sprintf("layer %q (%s): %v", e.Layer, e.Class, e.Err)
}

func (e *LayerError) Unwrap() error { return e.Err }

// oneInput returns the single input shape, or an error when there is not
// exactly one.
func oneInput(in []Shape) (Shape, error) {
	if len(in) != 1 {
		return Shape{}, fmt.Errorf("takes 1 input, got %d", len(in))
	}
	return in[0], nil
}
