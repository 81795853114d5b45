package server

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"os"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/internal/imageio"
	"github.com/upscaler-go/upscaler/message"
	"github.com/upscaler-go/upscaler/pool"
	"github.com/upscaler-go/upscaler/tensor"
)

// Worker modes of Config.WorkerMode.
const (
	// WorkerInProcess runs upscales on goroutines of the server process.
	WorkerInProcess = "inproc"
	// WorkerProcess runs upscales in supervised worker processes
	// (package pool), so a crash or an out-of-memory kill costs one
	// request, not the server.
	WorkerProcess = "process"
)

// processEngine runs upscales in the worker processes of a pool.ProcessPool.
// The server's own queue still admits requests, so the pool's queue stays
// short.
type processEngine struct {
	pool  *pool.ProcessPool
	model modelRef
}

var _ Engine = processEngine{}

// newProcessPool starts the worker processes for cfg.
func newProcessPool(cfg Config) (*pool.ProcessPool, error) {
	command := cfg.WorkerCommand
	if len(command) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("server: find the worker program: %w (set WorkerCommand)", err)
		}
		command = []string{exe, "worker"}
	}
	pp, err := pool.NewProcess(pool.ProcessConfig{
		Command:     command,
		Workers:     cfg.Workers,
		MemoryLimit: cfg.WorkerMemoryLimit,
		Grace:       cfg.Grace,
		Env:         cfg.WorkerEnv,
		Logger:      cfg.Logger,
		QueueSize:   cfg.Workers + cfg.QueueLimit,
		Limits:      &message.Limits{MaxPixels: cfg.MaxPixels},
	})
	if err != nil {
		return nil, fmt.Errorf("server: start worker processes %q: %w", command, err)
	}
	return pp, nil
}

// Upscale sends input (an image.Image or a [h, w, 3] *tensor.Tensor) to a
// worker process and converts its reply.
func (e processEngine) Upscale(ctx context.Context, input any, opts *upscaler.Options) (*upscaler.Result, error) {
	req := &message.Request{
		ID:        newID(),
		Model:     e.model.family,
		Scale:     e.model.scale,
		PatchSize: opts.PatchSize,
		Padding:   opts.Padding,
	}
	if opts.AutoPadding {
		req.Padding = message.PaddingAuto
	}
	switch in := input.(type) {
	case image.Image:
		req.Tensor = imageTensor(in)
	case *tensor.Tensor:
		req.Tensor = message.FromTensor(in)
	default:
		return nil, fmt.Errorf("server: unsupported input type %T", input)
	}

	h, err := e.pool.TrySubmit(ctx, req)
	if errors.Is(err, pool.ErrQueueFull) {
		return nil, errBusy
	}
	if errors.Is(err, pool.ErrClosed) {
		return nil, errStopping
	}
	if err != nil {
		return nil, poolError(err)
	}
	for p := range h.Progress() {
		if opts.Progress != nil {
			opts.Progress(upscaler.Progress{Fraction: p.Fraction, Row: p.Row, Col: p.Col})
		}
	}
	res, err := h.Wait(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, poolError(err)
	}
	return resultFromMessage(res.Tensor)
}

// imageTensor converts img to a UINT8 tensor: RGB when it is opaque, RGBA
// otherwise, so the worker enlarges alpha as the library does.
func imageTensor(img image.Image) *message.Tensor {
	b := img.Bounds()
	nrgba, ok := img.(*image.NRGBA)
	if !ok || nrgba.Stride != 4*b.Dx() || len(nrgba.Pix) != 4*b.Dx()*b.Dy() {
		nrgba = image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(nrgba, nrgba.Bounds(), img, b.Min, draw.Src)
	}
	if imageio.HasAlpha(img) {
		return message.FromUint8(nrgba.Pix, b.Dy(), b.Dx(), 4)
	}
	rgb := make([]uint8, 0, b.Dx()*b.Dy()*3)
	for i := 0; i < len(nrgba.Pix); i += 4 {
		rgb = append(rgb, nrgba.Pix[i], nrgba.Pix[i+1], nrgba.Pix[i+2])
	}
	return message.FromUint8(rgb, b.Dy(), b.Dx(), 3)
}

// resultFromMessage splits a worker's [h, w, 3 or 4] result into the colour
// and alpha tensors of an upscaler.Result.
func resultFromMessage(mt *message.Tensor) (*upscaler.Result, error) {
	if mt == nil {
		return nil, errors.New("server: worker returned no tensor")
	}
	t, err := mt.ToTensor()
	if err != nil {
		return nil, fmt.Errorf("server: worker result: %w", err)
	}
	shape := t.Shape
	if len(shape) == 4 {
		shape = shape[1:]
	}
	if len(shape) != 3 || (shape[2] != 3 && shape[2] != 4) {
		return nil, fmt.Errorf("server: worker result has shape %v, want [h, w, 3 or 4]", t.Shape)
	}
	h, w, c := shape[0], shape[1], shape[2]
	if c == 3 {
		return &upscaler.Result{Tensor: &tensor.Tensor{Shape: []int{h, w, 3}, Data: t.Data}}, nil
	}
	rgb := tensor.New(h, w, 3)
	alpha := tensor.New(h, w, 1)
	for i := 0; i < h*w; i++ {
		copy(rgb.Data[3*i:3*i+3], t.Data[4*i:4*i+3])
		alpha.Data[i] = t.Data[4*i+3]
	}
	return &upscaler.Result{Tensor: rgb, Alpha: alpha}, nil
}

// poolError maps a worker's *message.Error to the server's error classes.
func poolError(err error) error {
	var me *message.Error
	if !errors.As(err, &me) {
		var de *message.DecodeError
		if errors.As(err, &de) {
			return fmt.Errorf("%w: %w", errBadRequest, err)
		}
		return err
	}
	switch me.Kind {
	case message.KindInvalid, message.KindUnsupported:
		return fmt.Errorf("%w: %s", errBadRequest, me.Message)
	case message.KindTooLarge:
		return fmt.Errorf("%w: %s", errTooLargeTensor, me.Message)
	case message.KindUnknownModel:
		return fmt.Errorf("%w: %s", errUnknownModel, me.Message)
	case message.KindCanceled:
		return fmt.Errorf("%w: %s", context.Canceled, me.Message)
	}
	return fmt.Errorf("worker %s: %s", me.Kind, me.Message)
}
