package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/message"
	"github.com/upscaler-go/upscaler/tensor"
)

// anySize is the Limits value Run validates with: the receiver of the
// message has already applied its own size limits.
var anySize = &message.Limits{MaxHeaderBytes: math.MaxInt32, MaxDataBytes: math.MaxInt64, MaxPixels: math.MaxInt64}

// Run upscales the image of req with u and returns the Result. progress,
// when not nil, is called on the calling goroutine after each patch.
//
// The request's Model is not checked: the caller picks u for it. A Scale
// other than 0 must equal u's scale. Run checks req with message.Validate
// but applies no size limits, which are the receiver's to apply before.
//
// A non-nil error is always a *message.Error: KindInvalid for a bad request
// or options, KindCanceled when ctx ended, and KindInternal otherwise.
func Run(ctx context.Context, u *upscaler.Upscaler, req *message.Request, progress func(*message.Progress)) (*message.Result, error) {
	if err := message.Validate(req, anySize); err != nil {
		var de *message.DecodeError
		if errors.As(err, &de) {
			return nil, de.Reply()
		}
		return nil, &message.Error{ID: requestID(req), Kind: message.KindInvalid, Message: err.Error()}
	}
	if req.Scale != 0 && req.Scale != u.Scale() {
		def := u.Definition()
		return nil, errorf(req.ID, message.KindUnknownModel,
			"model %s enlarges %d×, not the requested %d×; request scale 0 or %d", def.String(), u.Scale(), req.Scale, u.Scale())
	}

	// Step 1: the options.
	shape := req.Tensor.Shape
	h, w, c := shape[len(shape)-3], shape[len(shape)-2], shape[len(shape)-1]
	opts := &upscaler.Options{
		PatchSize:   req.PatchSize,
		Padding:     max(req.Padding, 0),
		AutoPadding: req.Padding == message.PaddingAuto,
		MaxPixels:   int64(h) * int64(w),
	}
	if progress != nil && req.PatchSize > 0 {
		opts.ProgressOutput = req.ProgressPatches
		opts.Progress = func(p upscaler.Progress) {
			m := &message.Progress{ID: req.ID, Fraction: p.Fraction, Row: p.Row, Col: p.Col}
			if p.Output != nil {
				m.Patch = outputTensor(p.Output, nil, req.Tensor.DataType, 3, false)
			}
			progress(m)
		}
	}

	// Step 2: the input, without copying FP32 data.
	var input any
	if req.Tensor.DataType == message.UINT8 {
		input = upscaler.Uint8Tensor{Shape: shape, Data: req.Tensor.Uint8}
	} else {
		input = &tensor.Tensor{Shape: shape, Data: req.Tensor.Float32}
	}

	// Step 3: upscale.
	res, err := u.Upscale(ctx, input, opts)
	if err != nil {
		return nil, upscaleError(req.ID, err)
	}

	// Step 4: the reply in the requested form.
	if req.Output == message.OutputPNG {
		var buf bytes.Buffer
		if err := res.Encode(&buf, upscaler.PNG, 0); err != nil {
			return nil, errorf(req.ID, message.KindInternal, "encode PNG result: %v", err)
		}
		return &message.Result{ID: req.ID, PNG: buf.Bytes()}, nil
	}
	return &message.Result{ID: req.ID, Tensor: outputTensor(res.Tensor, res.Alpha, req.Tensor.DataType, c, len(shape) == 4)}, nil
}

// outputTensor builds the message tensor of an [H, W, 3] output and an
// optional [H, W, 1] alpha plane. The tensor has c channels, with alpha 255
// when the plane is nil and c is 4, datatype dt, and a leading batch
// dimension of 1 when batch is set. An FP32 RGB output shares rgb's data.
func outputTensor(rgb, alpha *tensor.Tensor, dt message.DataType, c int, batch bool) *message.Tensor {
	h, w := rgb.Shape[0], rgb.Shape[1]
	shape := []int{h, w, c}
	if batch {
		shape = []int{1, h, w, c}
	}
	n := h * w
	switch {
	case dt == message.FP32 && c == 3:
		return &message.Tensor{Shape: shape, DataType: message.FP32, Float32: rgb.Data}
	case dt == message.FP32:
		out := make([]float32, n*4)
		for i := range n {
			copy(out[i*4:i*4+3], rgb.Data[i*3:i*3+3])
			out[i*4+3] = 255
			if alpha != nil {
				out[i*4+3] = alpha.Data[i]
			}
		}
		return &message.Tensor{Shape: shape, DataType: message.FP32, Float32: out}
	}
	out := make([]uint8, n*c)
	for i := range n {
		for ch := range 3 {
			out[i*c+ch] = toUint8(rgb.Data[i*3+ch])
		}
		if c == 4 {
			out[i*4+3] = 255
			if alpha != nil {
				out[i*4+3] = toUint8(alpha.Data[i])
			}
		}
	}
	return &message.Tensor{Shape: shape, DataType: message.UINT8, Uint8: out}
}

// toUint8 rounds a 0..255 value to the nearest byte, as upscaler.Result.Image
// does, so a UINT8 result equals the pixels of the result image.
func toUint8(v float32) uint8 {
	return uint8(math.Round(float64(min(max(v, 0), 255))))
}

// upscaleError classifies an error of Upscaler.Upscale.
func upscaleError(id string, err error) *message.Error {
	kind := message.KindInternal
	switch {
	case errors.Is(err, upscaler.ErrAborted), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		kind = message.KindCanceled
	case errors.Is(err, upscaler.ErrInput), errors.Is(err, upscaler.ErrOptions):
		kind = message.KindInvalid
	}
	return &message.Error{ID: id, Kind: kind, Message: err.Error()}
}

func errorf(id string, kind message.ErrorKind, format string, args ...any) *message.Error {
	return &message.Error{ID: id, Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// requestID returns the ID of req, or "" for a nil request.
func requestID(req *message.Request) string {
	if req == nil {
		return ""
	}
	return req.ID
}
