// Package nn runs image-to-image neural networks: a directed acyclic graph of
// layers over NHWC feature maps, executed on the CPU.
//
// A Graph is built with a Builder from Layer values (Conv2D, Concatenate,
// UpSampling2D and the rest of this package, or a caller's own type), then
// compiled into a Model. Compiling checks every shape and fuses layers. An
// activation joins the convolution before it. A nearest-neighbour
// UpSampling2D joins the convolution after it, so the enlarged map is never
// stored, and with "same" padding the kernel is summed by phase over the
// small map. Compiling then plans memory: each Concatenate whose inputs can
// be written in place gets one buffer, and its inputs write straight into
// their channel ranges of it, so a dense block of convolutions never copies
// its growing feature map. Buffers are returned to a per-model pool as soon
// as their last reader has run, and later calls reuse the pool. Memory per
// call is therefore bounded by the largest set of live feature maps, and it
// does not grow from call to call.
//
// Feature maps are Views: a height × width grid of pixels, each pixel a run
// of C float32 channels, with Stride floats from one pixel to the next.
// Stride is at least C and is larger for a view into a concatenation buffer.
// Layers must read and write through the stride.
//
// Spatial sizes may be dynamic (-1 in a Shape) and are fixed per call by the
// input; channel counts are always known when the graph is built.
package nn
