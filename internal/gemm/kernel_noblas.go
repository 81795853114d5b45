//go:build !openblas || !cgo

package gemm

// libraryKernels returns nothing: the OpenBLAS kernel needs cgo and the
// openblas build tag.
func libraryKernels() []Kernel { return nil }
