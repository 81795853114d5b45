//go:build amd64 && !purego

package gemm

// platformKernels returns the SIMD kernels this CPU supports, slowest
// first. The assembly kernels are added here.
func platformKernels() []Kernel { return nil }
