package message

import "fmt"

// Message is one of *Request, *Progress, *Result, *Error or *Cancel. The
// set is closed: other packages cannot add message types.
type Message interface {
	// RequestID returns the ID of the request the message belongs to.
	RequestID() string

	// messageType returns the "type" value of the frame header.
	messageType() string
}

// Message type names, as written in the "type" field of a frame header.
const (
	typeRequest  = "request"
	typeProgress = "progress"
	typeResult   = "result"
	typeError    = "error"
	typeCancel   = "cancel"
)

// PaddingAuto is the Request.Padding value that lets the worker choose the
// patch padding. It is written as the string "auto" in frame headers.
const PaddingAuto = -1

// Output selects what a worker sends back in the Result of a request.
type Output string

// Output kinds. The empty Output means OutputTensor.
const (
	// OutputTensor requests the upscaled image as a tensor in Result.Tensor.
	OutputTensor Output = "tensor"

	// OutputPNG requests the upscaled image encoded as PNG in Result.PNG.
	OutputPNG Output = "png"
)

// Request is the message that starts the upscaling of one image.
type Request struct {
	// ID identifies the request in every message that refers to it. It must
	// not be empty and should be unique among the caller's open requests.
	ID string

	// Tensor is the input image, [height, width, channels] or
	// [1, height, width, channels] with 3 (RGB) or 4 (RGBA) channels.
	Tensor *Tensor

	// Model is the catalog name of the model, for example "esrgan-slim".
	// The empty name selects the worker's default model.
	Model string

	// Scale is the upscaling factor. Zero selects the model's own scale.
	Scale int

	// PatchSize is the edge length in pixels of the square patches the image
	// is split into. Zero upscales the whole image in one pass.
	PatchSize int

	// Padding is the overlap in pixels added around each patch, or
	// PaddingAuto to let the worker choose.
	Padding int

	// Output selects the form of the result. The empty value means
	// OutputTensor.
	Output Output

	// ProgressPatches requests that the worker attach each finished patch to its
	// Progress message.
	ProgressPatches bool
}

// Progress reports that a worker finished one patch of a request.
type Progress struct {
	// ID is the ID of the request.
	ID string

	// Fraction is the part of the work done, from 0 to 1.
	Fraction float64

	// Row and Col are the zero-based row and column of the finished patch
	// in the patch grid.
	Row, Col int

	// Patch is the upscaled patch when the request set ProgressPatches, and
	// nil otherwise.
	Patch *Tensor
}

// Result carries the upscaled image of a request. Exactly one of Tensor and
// PNG is set, as the request's Output selected.
type Result struct {
	// ID is the ID of the request.
	ID string

	// Tensor is the upscaled image for OutputTensor.
	Tensor *Tensor

	// PNG is the PNG-encoded upscaled image for OutputPNG.
	PNG []byte
}

// Error reports that a request failed. A worker sends it instead of a
// Result. It implements the error interface, so a client can return it.
type Error struct {
	// ID is the ID of the failed request. It is empty when the worker could
	// not read the ID, for example from a frame whose header is not JSON.
	ID string

	// Kind classifies the failure.
	Kind ErrorKind

	// Message describes the failure for a person.
	Message string
}

// Cancel is the message that stops a request. The worker replies with an
// Error of kind KindCanceled, or with the Result if it finished first.
type Cancel struct {
	// ID is the ID of the request to stop.
	ID string
}

// ErrorKind classifies an Error message or a DecodeError. Receivers must
// accept kinds they do not know and treat them as KindInternal.
type ErrorKind string

// Error kinds.
const (
	// KindInvalid marks a malformed message: bad framing or JSON, a shape
	// that does not match its data, a non-finite value, a bad field.
	KindInvalid ErrorKind = "invalid"

	// KindTooLarge marks a message over the receiver's Limits.
	KindTooLarge ErrorKind = "too_large"

	// KindUnsupported marks a well-formed message that uses a feature the
	// receiver lacks: another frame version or a datatype such as "INT64".
	KindUnsupported ErrorKind = "unsupported"

	// KindUnknownModel marks a request for a model the worker does not have.
	KindUnknownModel ErrorKind = "unknown_model"

	// KindCanceled marks a request stopped by a Cancel message.
	KindCanceled ErrorKind = "canceled"

	// KindInternal marks a failure inside the worker.
	KindInternal ErrorKind = "internal"

	// KindWorkerCrashed marks a request lost because its worker exited. The
	// client side of a transport creates it, since the worker cannot.
	KindWorkerCrashed ErrorKind = "worker_crashed"
)

// RequestID returns m.ID.
func (m *Request) RequestID() string { return m.ID }

// RequestID returns m.ID.
func (m *Progress) RequestID() string { return m.ID }

// RequestID returns m.ID.
func (m *Result) RequestID() string { return m.ID }

// RequestID returns m.ID.
func (m *Error) RequestID() string { return m.ID }

// RequestID returns m.ID.
func (m *Cancel) RequestID() string { return m.ID }

func (m *Request) messageType() string  { return typeRequest }
func (m *Progress) messageType() string { return typeProgress }
func (m *Result) messageType() string   { return typeResult }
func (m *Error) messageType() string    { return typeError }
func (m *Cancel) messageType() string   { return typeCancel }

// Error formats the failure as "message: request "ID" failed (kind): text".
func (m *Error) Error() string {
	return fmt.Sprintf("message: request %q failed (%s): %s", m.ID, m.Kind, m.Message)
}
