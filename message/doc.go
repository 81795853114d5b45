// Package message defines the messages exchanged between a caller and an
// upscaling worker, and their encodings. The worker may be a goroutine
// pool, a process reading stdin and writing stdout, or a remote service;
// all of them use these types.
//
// # Messages
//
// A caller sends a [Request] holding an image [Tensor] and the upscaling
// options, and may send a [Cancel]. The worker replies with any number of
// [Progress] messages and then one [Result] or one [Error]. Every message
// carries the request ID.
//
// In process, messages travel as Go values and no pixel data is copied:
// [FromTensor] and [FromUint8] wrap the caller's slices, and a worker
// converts UINT8 data to float32 with [Tensor.ToTensor] when it needs to.
// A worker that receives messages in process calls [Validate] on them.
//
// # Stream encoding
//
// On byte streams (pipes, sockets, WebSocket messages) each message is one
// frame: a 16-byte prefix, a JSON header and the binary tensor data.
//
//	"UPS" | version 1 | header length uint32 | data length uint64 | header | data
//
// Integers and tensor data are little-endian. The header describes tensors
// as the Open Inference Protocol (KServe v2) does with its binary data
// extension: name, shape, datatype "FP32" or "UINT8", and
// "parameters": {"binary_data_size": N}. The data of the tensors follows
// the header in the order they are listed. [AppendFrame] and [Writer]
// encode frames; [DecodeFrame] and [Reader] decode them. The format is
// documented byte by byte in docs/message-format.md.
//
// # Validation
//
// Decoders treat every frame as untrusted. They check the declared lengths
// against [Limits] before allocating buffers of that size. They check that
// each tensor's shape and datatype match its binary_data_size, and accept
// only [height, width, 3 or 4] or [1, height, width, 3 or 4] shapes with
// positive dimensions. They reject NaN and infinite FP32 values. A rejected
// message yields a [*DecodeError] whose Kind is the [ErrorKind] of the
// [Error] reply, and whose Fatal field says whether the stream can go on.
// No input makes a decoder panic.
//
// # JSON form
//
// [MarshalJSON] and [UnmarshalJSON] convert a tensor to and from
// {"data": [numbers], "shape": [height, width, channels]}, the simplest
// form for a JavaScript caller to build. It is slower and larger than a
// frame and carries only the tensor.
package message
