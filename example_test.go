package upscaler_test

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"log"
	"os"
	"path/filepath"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/tensor"
)

// Upscale a photo file into a new file with the embedded default model.
func Example() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "photo.png")
	writeGradient(in, 32, 24)

	u, err := upscaler.New(upscaler.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer u.Close()
	res, err := u.Upscale(context.Background(), in, nil)
	if err != nil {
		log.Fatal(err)
	}
	out := filepath.Join(dir, "photo@2x.png")
	if err := res.WriteFile(out, nil); err != nil {
		log.Fatal(err)
	}

	f, _ := os.Open(out)
	defer f.Close()
	cfg, _ := png.DecodeConfig(f)
	fmt.Printf("%s: %d×%d\n", filepath.Base(out), cfg.Width, cfg.Height)
	// Output: photo@2x.png: 64×48
}

// A worker's view: a [data, shape] message in, a [data, shape] message
// out. The data are float32 pixel values 0..255, the shape [h, w, 3].
func ExampleUpscaler_Upscale_tensor() {
	u, err := upscaler.New(upscaler.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer u.Close()

	data := make([]float32, 8*6*3) // what a caller read from its pixels
	for i := range data {
		data[i] = float32(i % 256)
	}
	shape := []int{8, 6, 3}
	in, err := tensor.FromData(data, shape...)
	if err != nil {
		log.Fatal(err)
	}
	res, err := u.Upscale(context.Background(), in, nil)
	if err != nil {
		log.Fatal(err)
	}
	upscaledData, upscaledShape := res.Tensor.Data, res.Tensor.Shape
	fmt.Println(len(upscaledData), upscaledShape)
	// Output: 576 [16 12 3]
}

// Write a large image's upscale straight to a file, one row of patches at
// a time, without holding the whole output in memory.
func ExampleUpscaler_UpscaleToFile() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "scan.png")
	writeGradient(in, 300, 200)

	u, err := upscaler.New(upscaler.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer u.Close()
	out := filepath.Join(dir, "scan@2x.png")
	opts := &upscaler.Options{PatchSize: 64, AutoPadding: true}
	if err := u.UpscaleToFile(context.Background(), in, out, opts, nil); err != nil {
		log.Fatal(err)
	}

	f, _ := os.Open(out)
	defer f.Close()
	cfg, _ := png.DecodeConfig(f)
	fmt.Printf("%s: %d×%d\n", filepath.Base(out), cfg.Width, cfg.Height)
	// Output: scan@2x.png: 600×400
}

// Upscale in patches and watch the progress.
func ExampleOptions_progress() {
	u, err := upscaler.New(upscaler.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer u.Close()
	img := gradient(40, 24)
	_, err = u.Upscale(context.Background(), img, &upscaler.Options{
		PatchSize: 24,
		Padding:   4,
		Progress: func(p upscaler.Progress) {
			fmt.Printf("%3.0f%% row %d column %d keeps %v\n", 100*p.Fraction, p.Row, p.Col, p.Keep)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	//  50% row 0 column 0 keeps (0,0)-(20,24)
	// 100% row 0 column 1 keeps (20,0)-(40,24)
}

// Cancel a call through its context; the Upscaler stays usable.
func ExampleUpscaler_Upscale_cancel() {
	u, err := upscaler.New(upscaler.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer u.Close()
	ctx, cancel := context.WithCancel(context.Background())
	_, err = u.Upscale(ctx, gradient(64, 64), &upscaler.Options{
		PatchSize: 16, Padding: 2,
		Progress: func(p upscaler.Progress) {
			if p.Index == 1 {
				cancel() // stop after the second patch
			}
		},
	})
	fmt.Println(errors.Is(err, upscaler.ErrAborted), errors.Is(err, context.Canceled))

	res, err := u.Upscale(context.Background(), gradient(4, 4), nil)
	fmt.Println(res.Tensor.Shape, err)
	// Output:
	// true true
	// [8 8 3] <nil>
}

func gradient(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	return img
}

func writeGradient(path string, w, h int) {
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, gradient(w, h)); err != nil {
		log.Fatal(err)
	}
}
