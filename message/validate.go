package message

import (
	"math"

	"github.com/upscaler-go/upscaler/tensor"
)

// Validate checks m against lim (nil selects the defaults) and returns a
// *DecodeError that names the first problem, or nil. It checks the fields
// of m, the shape, datatype and data length of each tensor, and that every
// FP32 value is finite. Reader and DecodeFrame run the same checks on each
// message they return; a worker calls Validate on messages it receives in
// process.
func Validate(m Message, lim *Limits) error {
	l := lim.orDefaults()
	if err := checkMessage(m, l, true); err != nil {
		return err
	}
	return checkValues(m)
}

// checkMessage checks the fields of m and the shapes of its tensors. With
// withData set it also checks that each tensor's data length matches its
// shape; decoders clear it while the data is still unread.
func checkMessage(m Message, lim Limits, withData bool) error {
	switch m := m.(type) {
	case *Request:
		if m == nil {
			return invalidf("nil *Request")
		}
		return withID(checkRequest(m, lim, withData), m.ID)
	case *Progress:
		if m == nil {
			return invalidf("nil *Progress")
		}
		return withID(checkProgress(m, lim, withData), m.ID)
	case *Result:
		if m == nil {
			return invalidf("nil *Result")
		}
		return withID(checkResult(m, lim, withData), m.ID)
	case *Error:
		if m == nil {
			return invalidf("nil *Error")
		}
		if m.Kind == "" {
			return withID(invalidf("error message has no kind; set Kind, for example to %q", KindInternal), m.ID)
		}
		return nil
	case *Cancel:
		if m == nil {
			return invalidf("nil *Cancel")
		}
		return checkID(m.ID, typeCancel)
	}
	return invalidf("message type %T is not one of *Request, *Progress, *Result, *Error, *Cancel", m)
}

func checkID(id, typ string) error {
	if id == "" {
		return invalidf("%s has an empty ID; every %s must name its request", typ, typ)
	}
	return nil
}

func checkRequest(m *Request, lim Limits, withData bool) error {
	if err := checkID(m.ID, typeRequest); err != nil {
		return err
	}
	if m.Tensor == nil {
		return invalidf("request has no image tensor")
	}
	if err := checkTensor(m.Tensor, "image", lim, withData); err != nil {
		return err
	}
	if m.Scale < 0 {
		return invalidf("scale %d is negative; use a positive factor, or 0 for the model's scale", m.Scale)
	}
	if m.PatchSize < 0 {
		return invalidf("patch size %d is negative; use a positive size, or 0 for no patches", m.PatchSize)
	}
	if m.Padding < PaddingAuto {
		return invalidf("padding %d is negative; use a size ≥ 0, or PaddingAuto (\"auto\")", m.Padding)
	}
	switch m.Output {
	case "", OutputTensor, OutputPNG:
	default:
		return invalidf("output %q is unknown; use %q or %q", m.Output, OutputTensor, OutputPNG)
	}
	return nil
}

func checkProgress(m *Progress, lim Limits, withData bool) error {
	if err := checkID(m.ID, typeProgress); err != nil {
		return err
	}
	if !(m.Fraction >= 0 && m.Fraction <= 1) {
		return invalidf("progress fraction %v is outside 0..1", m.Fraction)
	}
	if m.Row < 0 || m.Col < 0 {
		return invalidf("progress patch position row %d, column %d is negative", m.Row, m.Col)
	}
	if m.Patch != nil {
		return checkTensor(m.Patch, "patch", lim, withData)
	}
	return nil
}

func checkResult(m *Result, lim Limits, withData bool) error {
	if err := checkID(m.ID, typeResult); err != nil {
		return err
	}
	switch {
	case m.Tensor != nil && m.PNG != nil:
		return invalidf("result has both a tensor and PNG bytes; set one of them")
	case m.Tensor != nil:
		return checkTensor(m.Tensor, "image", lim, withData)
	case m.PNG != nil:
		if withData && len(m.PNG) == 0 {
			return invalidf("result PNG is empty")
		}
		if int64(len(m.PNG)) > lim.MaxDataBytes {
			return tooLargef("raise Limits.MaxDataBytes", "result PNG is %d bytes, over the limit of %d", len(m.PNG), lim.MaxDataBytes)
		}
		return nil
	}
	return invalidf("result has neither a tensor nor PNG bytes")
}

// checkTensor checks the datatype and shape of t and, with withData set,
// that its data length matches the shape. name is the tensor's role in the
// message, for the error text.
func checkTensor(t *Tensor, name string, lim Limits, withData bool) error {
	n, err := checkShape(t.Shape, t.DataType, name, lim)
	if err != nil {
		return err
	}
	if !withData {
		return nil
	}
	if t.DataType == FP32 && t.Uint8 != nil || t.DataType == UINT8 && t.Float32 != nil {
		return invalidf("%s tensor is %v but also holds data of the other datatype; set only the slice of its datatype",
			name, t.DataType)
	}
	if t.Len() != n {
		return invalidf("%s tensor shape %v has %d elements but its %v data has %d; the data must match the shape",
			name, t.Shape, n, t.DataType, t.Len())
	}
	return nil
}

// checkShape checks that shape describes an image of datatype dt within lim
// and returns its element count. Every product is bounded before it is
// formed, so no arithmetic can overflow.
func checkShape(shape []int, dt DataType, name string, lim Limits) (int, error) {
	size := dt.Size()
	if size == 0 {
		return 0, invalidf("%s tensor has invalid datatype %v; use FP32 or UINT8", name, dt)
	}

	// Step 1: rank, batch and channels.
	var h, w, c int
	switch {
	case len(shape) == 3:
		h, w, c = shape[0], shape[1], shape[2]
	case len(shape) == 4:
		if shape[0] != 1 {
			return 0, invalidf("%s tensor shape %v has batch size %d; send one image per message, batch size 1",
				name, shape, shape[0])
		}
		h, w, c = shape[1], shape[2], shape[3]
	default:
		return 0, invalidf("%s tensor shape %v has rank %d; want [height, width, channels] or [1, height, width, channels]",
			name, shape, len(shape))
	}
	if h <= 0 || w <= 0 {
		return 0, invalidf("%s tensor shape %v has a dimension ≤ 0; height and width must be positive", name, shape)
	}
	if c != 3 && c != 4 {
		return 0, invalidf("%s tensor shape %v has %d channels; want 3 (RGB) or 4 (RGBA)", name, shape, c)
	}

	// Step 2: pixel count, without forming h*w until it is known to fit.
	if int64(h) > lim.MaxPixels || int64(w) > lim.MaxPixels/int64(h) {
		return 0, tooLargef("split the image or raise Limits.MaxPixels", "%s tensor of %d×%d pixels is over the limit of %d pixels",
			name, h, w, lim.MaxPixels)
	}
	pixels := int64(h) * int64(w)

	// Step 3: data size. pixels ≤ MaxPixels, so the division bounds the product.
	maxElements := min(lim.MaxDataBytes/int64(size), math.MaxInt, tensor.MaxElements)
	if pixels > maxElements/int64(c) {
		return 0, tooLargef("raise Limits.MaxDataBytes", "%s tensor shape %v of %v is over the limit of %d data bytes",
			name, shape, dt, lim.MaxDataBytes)
	}
	return int(pixels) * c, nil
}

// checkValues checks that every FP32 value in the tensors of m is finite.
func checkValues(m Message) error {
	var err error
	switch m := m.(type) {
	case *Request:
		err = checkFinite(m.Tensor, "image")
	case *Progress:
		if m.Patch != nil {
			err = checkFinite(m.Patch, "patch")
		}
	case *Result:
		if m.Tensor != nil {
			err = checkFinite(m.Tensor, "image")
		}
	}
	if err != nil {
		return withID(err, m.RequestID())
	}
	return nil
}

// checkFinite returns an error naming the first NaN or infinite value of
// t, with its index in the data and its (row, column, channel) position.
// It expects a shape that checkShape accepted.
func checkFinite(t *Tensor, name string) error {
	if t.DataType != FP32 {
		return nil
	}
	for i, v := range t.Float32 {
		if !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) {
			continue
		}
		w, c := t.Shape[len(t.Shape)-2], t.Shape[len(t.Shape)-1]
		return invalidf("%s tensor element %d (row %d, column %d, channel %d) is %v; values must be finite",
			name, i, i/(w*c), i/c%w, i%c, v)
	}
	return nil
}
