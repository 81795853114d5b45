// Package gemm multiplies float32 matrices for the convolution layers: C =
// act(A·B + bias), with A row-major and B packed once per layer.
//
// The convolution layers turn a block of output pixels into the rows of A
// (im2col), so M is a pixel count, K is kernel height × kernel width × input
// channels and N is the number of output channels. B holds the layer's
// weights and is packed when the model loads, in the layout of the kernel
// chosen at start-up. Mul is single-threaded; callers split M across
// goroutines and give each its own rows of A and C.
//
// The kernel is chosen once, when the package initialises, from the CPU's
// features. The environment variable UPSCALER_GEMM forces one: "go" (the
// portable Go kernel, the only one on non-amd64 builds and with the purego
// build tag) or a name listed by Kernels.
package gemm
