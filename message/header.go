package message

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// header is the JSON header of a frame. Tensors follow the Open Inference
// Protocol (KServe v2) tensor objects with the binary data extension. The
// fields of each message type go in "parameters", as the protocol does for
// request and response parameters.
type header struct {
	Type       string       `json:"type"`
	ID         string       `json:"id"`
	Error      string       `json:"error,omitempty"`
	Parameters *parameters  `json:"parameters,omitempty"`
	Inputs     []wireTensor `json:"inputs,omitempty"`
	Outputs    []wireTensor `json:"outputs,omitempty"`
}

// parameters holds the fields of every message type; each type uses some.
type parameters struct {
	Model           string    `json:"model,omitempty"`
	Scale           int       `json:"scale,omitempty"`
	PatchSize       int       `json:"patch_size,omitempty"`
	Padding         padding   `json:"padding,omitempty"`
	Output          Output    `json:"output,omitempty"`
	ProgressPatches bool      `json:"progress_patches,omitempty"`
	Fraction        float64   `json:"fraction,omitempty"`
	Row             int       `json:"row,omitempty"`
	Col             int       `json:"col,omitempty"`
	Kind            ErrorKind `json:"kind,omitempty"`
}

// wireTensor describes one tensor whose data lies in the binary part of
// the frame.
type wireTensor struct {
	Name       string           `json:"name"`
	Shape      []int            `json:"shape"`
	Datatype   string           `json:"datatype"`
	Parameters wireTensorParams `json:"parameters"`
}

type wireTensorParams struct {
	// BinaryDataSize is a pointer so that a missing size is distinguished
	// from a zero one.
	BinaryDataSize *int64 `json:"binary_data_size"`
}

// Tensor names in frame headers.
const (
	nameImage = "image" // request input and tensor result
	namePatch = "patch" // progress patch
	namePNG   = "png"   // PNG result, a UINT8 tensor of shape [length]
)

// padding is Request.Padding in JSON: a number, or "auto" for PaddingAuto.
type padding int

func (p padding) MarshalJSON() ([]byte, error) {
	if p == PaddingAuto {
		return []byte(`"auto"`), nil
	}
	return strconv.AppendInt(nil, int64(p), 10), nil
}

func (p *padding) UnmarshalJSON(b []byte) error {
	if string(b) == `"auto"` {
		*p = PaddingAuto
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("padding %s is neither a number nor \"auto\"", b)
	}
	*p = padding(n)
	return nil
}

// payload is the data of one tensor in the binary part of a frame. It points
// at the data slice of the message's Tensor, or at Result.PNG, so a decoder
// fills the message in place. Exactly one of f32 and u8 is set.
type payload struct {
	f32 *[]float32
	u8  *[]uint8
	n   int // element count
}

// bytes returns the length of the payload's data on the wire.
func (p payload) bytes() int64 {
	if p.f32 != nil {
		return 4 * int64(p.n)
	}
	return int64(p.n)
}

// encodeHeader returns the header of m and the payloads of its tensors in
// frame order. m must have passed checkMessage.
func encodeHeader(m Message) (header, []payload) {
	h := header{Type: m.messageType(), ID: m.RequestID()}
	var ps []payload
	add := func(list *[]wireTensor, name string, t *Tensor) {
		p := payload{n: t.Len()}
		if t.DataType == FP32 {
			p.f32 = &t.Float32
		} else {
			p.u8 = &t.Uint8
		}
		size := p.bytes()
		*list = append(*list, wireTensor{Name: name, Shape: t.Shape, Datatype: t.DataType.String(),
			Parameters: wireTensorParams{BinaryDataSize: &size}})
		ps = append(ps, p)
	}

	switch m := m.(type) {
	case *Request:
		h.Parameters = &parameters{Model: m.Model, Scale: m.Scale, PatchSize: m.PatchSize,
			Padding: padding(m.Padding), Output: m.Output, ProgressPatches: m.ProgressPatches}
		add(&h.Inputs, nameImage, m.Tensor)
	case *Progress:
		h.Parameters = &parameters{Fraction: m.Fraction, Row: m.Row, Col: m.Col}
		if m.Patch != nil {
			add(&h.Outputs, namePatch, m.Patch)
		}
	case *Result:
		if m.Tensor != nil {
			add(&h.Outputs, nameImage, m.Tensor)
		} else {
			add(&h.Outputs, namePNG, &Tensor{Shape: []int{len(m.PNG)}, DataType: UINT8, Uint8: m.PNG})
		}
	case *Error:
		h.Parameters = &parameters{Kind: m.Kind}
		h.Error = m.Message
	}
	return h, ps
}

// decodeHeader parses the JSON header b of a frame whose binary part is
// binLen bytes. It returns the message with tensor shapes set and data
// unset, and the payloads to fill from the binary part in order. The
// message passed checkMessage without data, and the payload sizes add up
// to binLen.
func decodeHeader(b []byte, binLen int64, lim Limits) (Message, []payload, error) {
	var h header
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, nil, invalidf("frame header is not valid JSON: %v", err)
	}
	p := h.Parameters
	if p == nil {
		p = &parameters{}
	}

	// Step 1: the message and the tensors each type carries.
	var (
		m       Message
		tensors []wireTensor // the list the message type uses
		other   []wireTensor // the list it must leave empty
		ps      []payload
	)
	switch h.Type {
	case typeRequest:
		m = &Request{ID: h.ID, Model: p.Model, Scale: p.Scale, PatchSize: p.PatchSize,
			Padding: int(p.Padding), Output: p.Output, ProgressPatches: p.ProgressPatches}
		tensors, other = h.Inputs, h.Outputs
	case typeProgress:
		m = &Progress{ID: h.ID, Fraction: p.Fraction, Row: p.Row, Col: p.Col}
		tensors, other = h.Outputs, h.Inputs
	case typeResult:
		m = &Result{ID: h.ID}
		tensors, other = h.Outputs, h.Inputs
	case typeError:
		m = &Error{ID: h.ID, Kind: p.Kind, Message: h.Error}
		other = append(h.Inputs, h.Outputs...)
	case typeCancel:
		m = &Cancel{ID: h.ID}
		other = append(h.Inputs, h.Outputs...)
	default:
		return nil, nil, withID(invalidf("frame header type %q is unknown; want request, progress, result, error or cancel",
			h.Type), h.ID)
	}
	if len(other) > 0 || len(tensors) > 1 {
		return nil, nil, withID(invalidf("%s has %d input and %d output tensors; want %s",
			h.Type, len(h.Inputs), len(h.Outputs), tensorCountHint(h.Type)), h.ID)
	}

	// Step 2: the tensor, if any, and its place in the binary part.
	var total int64
	for _, wt := range tensors {
		pl, err := decodeTensor(m, wt, lim)
		if err != nil {
			return nil, nil, withID(err, h.ID)
		}
		ps = append(ps, pl)
		total += pl.bytes()
	}
	if total != binLen {
		return nil, nil, withID(invalidf("frame prefix declares %d data bytes but the header's tensors have %d",
			binLen, total), h.ID)
	}

	// Step 3: the fields.
	if err := checkMessage(m, lim, false); err != nil {
		return nil, nil, err
	}
	return m, ps, nil
}

func tensorCountHint(typ string) string {
	switch typ {
	case typeRequest:
		return "one input tensor \"image\""
	case typeProgress:
		return "no tensor, or one output tensor \"patch\""
	case typeResult:
		return "one output tensor, \"image\" or \"png\""
	}
	return "no tensors"
}

// decodeTensor attaches the tensor described by wt to m and returns its
// payload, whose slice points into m.
func decodeTensor(m Message, wt wireTensor, lim Limits) (payload, error) {
	dt, err := ParseDataType(wt.Datatype)
	if err != nil {
		return payload{}, err
	}
	size := wt.Parameters.BinaryDataSize
	if size == nil {
		return payload{}, invalidf("tensor %q has no parameters.binary_data_size; frames carry tensor data only in the binary part",
			wt.Name)
	}

	// A PNG result is a byte string, not an image tensor.
	if r, ok := m.(*Result); ok && wt.Name == namePNG {
		if dt != UINT8 || len(wt.Shape) != 1 {
			return payload{}, invalidf("png tensor is %s %v; want UINT8 of shape [length]", wt.Datatype, wt.Shape)
		}
		n := int64(wt.Shape[0])
		if n <= 0 || n != *size {
			return payload{}, invalidf("png tensor shape %v does not match binary_data_size %d", wt.Shape, *size)
		}
		if n > lim.MaxDataBytes {
			return payload{}, tooLargef("raise Limits.MaxDataBytes", "png tensor of %d bytes is over the limit of %d", n, lim.MaxDataBytes)
		}
		r.PNG = []byte{} // marks the result as PNG until the data is read
		return payload{u8: &r.PNG, n: int(n)}, nil
	}

	t := &Tensor{Shape: wt.Shape, DataType: dt}
	want := nameImage
	switch m := m.(type) {
	case *Request:
		m.Tensor = t
	case *Progress:
		m.Patch, want = t, namePatch
	case *Result:
		m.Tensor = t
	}
	if wt.Name != want {
		return payload{}, invalidf("tensor name %q is unexpected in a %s; want %q", wt.Name, m.messageType(), want)
	}
	n, err := checkShape(wt.Shape, dt, wt.Name, lim)
	if err != nil {
		return payload{}, err
	}
	pl := payload{n: n}
	if dt == FP32 {
		pl.f32 = &t.Float32
	} else {
		pl.u8 = &t.Uint8
	}
	if pl.bytes() != *size {
		return payload{}, invalidf("tensor %q of shape %v and datatype %v has %d data bytes, but binary_data_size is %d",
			wt.Name, wt.Shape, dt, pl.bytes(), *size)
	}
	return pl, nil
}
