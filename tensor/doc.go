// Package tensor defines the dense float32 tensor that flows between the
// image, model and message packages.
//
// # Layout
//
// A Tensor stores its elements in row-major order: the last axis varies
// fastest. Images use NHWC (batch, height, width, channels), the layout of
// TensorFlow.js and of the UpscalerJS models, so the element at row y,
// column x, channel c of an [h, w, c] tensor is Data[(y*w+x)*c+c]. A rank-4
// tensor [1, h, w, c] has the same memory layout as the rank-3 [h, w, c].
//
// Pixel values are float32 in the range 0..255 unless a function says
// otherwise. Tensors carry no stride: every Tensor is contiguous.
package tensor
