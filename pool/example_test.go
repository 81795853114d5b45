package pool_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"os"

	"github.com/upscaler-go/upscaler/message"
	"github.com/upscaler-go/upscaler/pool"
)

// newImage returns a 4×3 opaque gradient.
func newImage() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 4, 3))
	for y := range 3 {
		for x := range 4 {
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(60 * x), G: uint8(100 * y), B: 128, A: 255})
		}
	}
	return img
}

// toImage turns a [height, width, 4] UINT8 tensor back into an image.
func toImage(t *message.Tensor) *image.NRGBA {
	h, w := t.Shape[0], t.Shape[1]
	return &image.NRGBA{Pix: t.Uint8, Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
}

// An image goes to the pool as a [data, shape] tensor message and comes
// back as one, while the caller's goroutine stays free.
func ExamplePool() {
	ctx := context.Background()
	p, err := pool.New(pool.Config{}) // the embedded default model, 2×
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close(ctx)

	// Image → [data, shape]: the RGBA bytes are sent as they are.
	img := newImage()
	req := &message.Request{ID: "photo", Tensor: message.FromUint8(img.Pix, 3, 4, 4)}
	h, err := p.Submit(ctx, req)
	if err != nil {
		fmt.Println(err)
		return
	}

	// [data, shape] → image.
	res, err := h.Wait(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	out := toImage(res.Tensor)
	fmt.Println(req.Tensor.Shape, "→", res.Tensor.Shape, res.Tensor.DataType)
	fmt.Println("image", img.Bounds(), "→", out.Bounds(), "alpha", out.NRGBAAt(7, 5).A)
	// Output:
	// [3 4 4] → [6 8 4] UINT8
	// image (0,0)-(4,3) → (0,0)-(8,6) alpha 255
}

// The same job in a worker process, with progress per patch. A program
// sets Command to {"upscaler", "worker"}; this example starts its own test
// binary, which serves as a worker when UPSCALER_TEST_WORKER=1.
func ExampleNewProcess() {
	ctx := context.Background()
	p, err := pool.NewProcess(pool.ProcessConfig{
		Command:     []string{os.Args[0]},
		Env:         []string{"UPSCALER_TEST_WORKER=1"},
		Workers:     2,
		MemoryLimit: 1 << 30,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close(ctx)

	img := newImage()
	h, err := p.Submit(ctx, &message.Request{ID: "photo", Tensor: message.FromUint8(img.Pix, 3, 4, 4), PatchSize: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	for pr := range h.Progress() {
		fmt.Printf("patch row %d col %d: %.0f%%\n", pr.Row, pr.Col, 100*pr.Fraction)
	}
	res, err := h.Wait(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("image", img.Bounds(), "→", toImage(res.Tensor).Bounds())
	// Output:
	// patch row 0 col 0: 25%
	// patch row 0 col 1: 50%
	// patch row 1 col 0: 75%
	// patch row 1 col 1: 100%
	// image (0,0)-(4,3) → (0,0)-(8,6)
}
