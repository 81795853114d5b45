// Package worker serves upscaling requests that arrive as messages (see
// package message), the way a Web Worker serves UpscalerJS: the caller
// sends an image tensor, and the worker sends back progress messages and
// then the upscaled tensor or an error.
//
// [Serve] runs the loop of a worker process: it reads frames from a stream
// such as stdin, loads each requested model once, upscales, and writes
// replies to another stream such as stdout. [Run] upscales one request with
// an [upscaler.Upscaler] the caller already holds; package pool uses it in
// process, so both kinds of worker give identical results.
//
// # Results
//
// The result tensor has the datatype, rank and channel count of the
// request's tensor. An FP32 request gets FP32 values 0..255, clipped and
// not rounded, as UpscalerJS returns them. A UINT8 request gets the values
// rounded to bytes. A 4-channel (RGBA) request gets 4 channels back, with
// alpha enlarged as package upscaler enlarges it, or 255 when the input was
// opaque. With OutputPNG the result is a PNG file instead, RGBA when the
// input had transparency and RGB otherwise. Progress patches are RGB, in the
// request's datatype, of shape [height, width, 3].
package worker
