//go:build !amd64 || purego

package gemm

func platformKernels() []Kernel { return nil }
