//go:build js && wasm

// Command wasm is the upscaler built for WebAssembly in a browser, with the
// embedded default model. Build it with
//
//	GOOS=js GOARCH=wasm go build -tags purego -o upscaler.wasm ./cmd/wasm
//
// and run it with Go's wasm_exec.js. It defines a global object
// goUpscaler with two functions:
//
//	goUpscaler.upscale(data, shape, opts, onProgress) → Promise<{data, shape}>
//	goUpscaler.cancel(id)
//
// data is a Uint8Array or Uint8ClampedArray of RGB or RGBA pixels in row-major
// order and shape is [height, width, 3 or 4]. opts may set id (a string,
// used by cancel), patchSize and padding (a number or "auto"). onProgress,
// when a function, is called after each patch with {id, fraction, row, col}.
// The promise resolves to RGB bytes (a Uint8Array) and their shape
// [height·scale, width·scale, 3], or rejects with an Error whose message describes
// the failure; a cancelled call rejects with a message starting "canceled".
//
// Between patches the call sleeps for a millisecond, which hands control
// back to the JavaScript event loop, so messages (a cancel request) are
// handled while an upscale runs. Without a patch size the whole image is
// one step and cannot be interrupted.
//
// When the module is ready it calls globalThis.goUpscalerReady, if defined.
package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall/js"
	"time"

	"github.com/upscaler-go/upscaler"
)

// maxPixels bounds the input; a browser tab has a few GiB at most and the
// model needs tens of bytes per pixel in float32 activations.
const maxPixels = 4 << 20

var (
	mu      sync.Mutex
	cancels = map[string]context.CancelFunc{} // guarded by mu
)

func main() {
	u, err := upscaler.New(upscaler.Config{Threads: 1})
	api := js.Global().Get("Object").New()
	if err != nil {
		msg := "upscaler: load the embedded model: " + err.Error()
		api.Set("error", msg)
		js.Global().Get("console").Call("error", msg)
	}
	api.Set("scale", 2)
	if u != nil {
		api.Set("scale", u.Scale())
	}
	api.Set("upscale", js.FuncOf(func(this js.Value, args []js.Value) any {
		return upscalePromise(u, args)
	}))
	api.Set("cancel", js.FuncOf(func(this js.Value, args []js.Value) any {
		if len(args) > 0 {
			mu.Lock()
			if cancel, ok := cancels[args[0].String()]; ok {
				cancel()
			}
			mu.Unlock()
		}
		return nil
	}))
	js.Global().Set("goUpscaler", api)
	if ready := js.Global().Get("goUpscalerReady"); ready.Type() == js.TypeFunction {
		ready.Invoke()
	}
	select {}
}

// upscalePromise starts an upscale on a goroutine and returns a Promise for
// its result.
func upscalePromise(u *upscaler.Upscaler, args []js.Value) js.Value {
	var handler js.Func
	handler = js.FuncOf(func(this js.Value, p []js.Value) any {
		handler.Release()
		resolve, reject := p[0], p[1]
		go func() {
			out, err := upscale(u, args)
			if err != nil {
				reject.Invoke(js.Global().Get("Error").New(err.Error()))
				return
			}
			resolve.Invoke(out)
		}()
		return nil
	})
	return js.Global().Get("Promise").New(handler)
}

func upscale(u *upscaler.Upscaler, args []js.Value) (js.Value, error) {
	if u == nil {
		return js.Null(), errors.New("upscaler: the model failed to load; see the console")
	}
	if len(args) < 2 {
		return js.Null(), errors.New("upscale(data, shape, opts, onProgress): data and shape are required")
	}

	// Read the arguments.
	data, shapeArg := args[0], args[1]
	if data.Type() != js.TypeObject || data.Get("length").Type() != js.TypeNumber ||
		(!data.InstanceOf(js.Global().Get("Uint8Array")) && !data.InstanceOf(js.Global().Get("Uint8ClampedArray"))) {
		return js.Null(), errors.New("upscale: data must be a Uint8Array or Uint8ClampedArray")
	}
	if shapeArg.Type() != js.TypeObject || shapeArg.Length() != 3 {
		return js.Null(), errors.New("upscale: shape must be [height, width, channels]")
	}
	shape := []int{shapeArg.Index(0).Int(), shapeArg.Index(1).Int(), shapeArg.Index(2).Int()}
	if shape[0] <= 0 || shape[1] <= 0 || (shape[2] != 3 && shape[2] != 4) {
		return js.Null(), fmt.Errorf("upscale: shape %v is not [height, width, 3 or 4]", shape)
	}
	if int64(shape[0])*int64(shape[1]) > maxPixels {
		return js.Null(), fmt.Errorf("upscale: image of %dx%d pixels exceeds the limit of %d pixels", shape[1], shape[0], maxPixels)
	}
	if n := data.Get("length").Int(); n != shape[0]*shape[1]*shape[2] {
		return js.Null(), fmt.Errorf("upscale: data has %d values, want %d for shape %v", n, shape[0]*shape[1]*shape[2], shape)
	}
	pixels := make([]byte, shape[0]*shape[1]*shape[2])
	if data.InstanceOf(js.Global().Get("Uint8ClampedArray")) {
		data = js.Global().Get("Uint8Array").New(data.Get("buffer"), data.Get("byteOffset"), data.Get("length"))
	}
	js.CopyBytesToGo(pixels, data)

	var opts upscaler.Options
	id := ""
	if len(args) > 2 && args[2].Type() == js.TypeObject {
		o := args[2]
		if v := o.Get("id"); v.Type() == js.TypeString || v.Type() == js.TypeNumber {
			id = fmt.Sprint(jsValue(v))
		}
		if v := o.Get("patchSize"); v.Type() == js.TypeNumber {
			opts.PatchSize = v.Int()
		}
		if v := o.Get("padding"); v.Type() == js.TypeNumber {
			opts.Padding = v.Int()
		} else if v.Type() == js.TypeString && v.String() == "auto" {
			opts.AutoPadding = true
		}
	}
	var onProgress js.Value
	if len(args) > 3 && args[3].Type() == js.TypeFunction {
		onProgress = args[3]
	}

	// Register the call for cancel(id).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if id != "" {
		mu.Lock()
		cancels[id] = cancel
		mu.Unlock()
		defer func() {
			mu.Lock()
			delete(cancels, id)
			mu.Unlock()
		}()
	}
	opts.Progress = func(p upscaler.Progress) {
		if onProgress.Type() == js.TypeFunction {
			onProgress.Invoke(map[string]any{"id": id, "fraction": p.Fraction, "row": p.Row, "col": p.Col})
		}
		// Yield to the event loop so that a cancel message can arrive.
		time.Sleep(time.Millisecond)
	}

	// Run the model and return RGB bytes.
	res, err := u.Upscale(ctx, upscaler.Uint8Tensor{Shape: shape, Data: pixels}, &opts)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return js.Null(), errors.New("canceled: the upscale was stopped")
		}
		return js.Null(), err
	}
	img := res.Image()
	h, w := img.Bounds().Dy(), img.Bounds().Dx()
	rgb := make([]byte, 0, h*w*3)
	for i := 0; i < len(img.Pix); i += 4 {
		rgb = append(rgb, img.Pix[i], img.Pix[i+1], img.Pix[i+2])
	}
	out := js.Global().Get("Uint8Array").New(len(rgb))
	js.CopyBytesToJS(out, rgb)
	return js.ValueOf(map[string]any{"data": out, "shape": []any{h, w, 3}}), nil
}

func jsValue(v js.Value) any {
	if v.Type() == js.TypeNumber {
		return v.Float()
	}
	return v.String()
}
