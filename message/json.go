package message

import (
	"encoding/json"
	"strconv"
)

// MarshalJSON returns the JSON form of t, {"data":[...],"shape":[...]},
// for callers that cannot build frames. The data is a flat array of numbers
// in row-major order and the shape is t.Shape. FP32 values are written with
// the fewest digits that read back to the same float32.
//
// It returns a *DecodeError when t fails Validate's shape and data checks
// or holds a NaN or infinity, which JSON cannot represent.
func MarshalJSON(t *Tensor) ([]byte, error) {
	if t == nil {
		return nil, invalidf("nil *Tensor")
	}
	if err := checkTensor(t, "json", noLimits, true); err != nil {
		return nil, err
	}
	if err := checkFinite(t, "json"); err != nil {
		return nil, err
	}

	// Most pixel values take 2 to 4 bytes with their comma.
	out := make([]byte, 0, 32+4*t.Len())
	out = append(out, `{"data":[`...)
	for i := range t.Len() {
		if i > 0 {
			out = append(out, ',')
		}
		if t.DataType == FP32 {
			out = strconv.AppendFloat(out, float64(t.Float32[i]), 'g', -1, 32)
		} else {
			out = strconv.AppendUint(out, uint64(t.Uint8[i]), 10)
		}
	}
	out = append(out, `],"shape":[`...)
	for i, d := range t.Shape {
		if i > 0 {
			out = append(out, ',')
		}
		out = strconv.AppendInt(out, int64(d), 10)
	}
	return append(out, "]}"...), nil
}

// UnmarshalJSON parses the JSON form {"data":[...],"shape":[h, w, c]} into
// a new FP32 Tensor. The shape may also be [1, h, w, c] and is kept as
// given. Other fields are ignored. The shape is checked against lim (nil
// selects the defaults) before the data array is allocated. A data array
// longer than the shape can still allocate memory in proportion to len(b)
// before it is rejected. Numbers outside the float32 range are rejected.
//
// Errors are *DecodeError values of kind KindInvalid or KindTooLarge.
func UnmarshalJSON(b []byte, lim *Limits) (*Tensor, error) {
	l := lim.orDefaults()

	// Step 1: the shape alone. Unmarshal scans past the data without
	// storing it.
	var head struct {
		Shape []int `json:"shape"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, invalidf("tensor JSON: %v; want {\"data\": [numbers], \"shape\": [height, width, channels]}", err)
	}
	if head.Shape == nil {
		return nil, invalidf("tensor JSON has no \"shape\"; want {\"data\": [numbers], \"shape\": [height, width, channels]}")
	}
	n, err := checkShape(head.Shape, FP32, "json", l)
	if err != nil {
		return nil, err
	}

	// Step 2: the data, into a slice sized by the shape. Each number takes
	// at least 2 bytes of b with its comma, which bounds the capacity for a
	// shape larger than the array. Unmarshal appends to the slice, so a
	// longer array grows it.
	body := struct {
		Data []float32 `json:"data"`
	}{Data: make([]float32, 0, min(n, len(b)/2+1))}
	if err := json.Unmarshal(b, &body); err != nil {
		return nil, invalidf("tensor JSON data: %v; the data must be numbers within the float32 range", err)
	}
	if len(body.Data) != n {
		return nil, invalidf("tensor JSON shape %v has %d elements but data has %d; the data must match the shape",
			head.Shape, n, len(body.Data))
	}
	return &Tensor{Shape: head.Shape, DataType: FP32, Float32: body.Data}, nil
}
