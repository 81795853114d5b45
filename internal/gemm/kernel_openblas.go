//go:build openblas && cgo

package gemm

import (
	"fmt"

	"github.com/upscaler-go/upscaler/internal/gemm/cblas"
)

// libraryKernels returns the kernel backed by OpenBLAS, built with the
// openblas tag. It serves as a yardstick for the generated kernels in
// benchmarks and tests.
func libraryKernels() []Kernel {
	// Each Mul call runs on its caller's goroutine, and callers already
	// split the rows over the cores, so OpenBLAS must not start threads of
	// its own.
	cblas.SetThreads(1)
	return []Kernel{openblasKernel{}}
}

// openblasKernel multiplies with cblas_sgemm and applies the epilogue in a
// second pass in Go. Its packed matrix is a plain row-major copy of B.
type openblasKernel struct{}

func (openblasKernel) Name() string { return "openblas" }

// Pack copies b. It panics if k or n is negative or b has fewer than k·n
// elements.
func (openblasKernel) Pack(b []float32, k, n int) *Packed {
	checkPack(b, k, n)
	return &Packed{K: k, N: n, Kernel: "openblas", Data: append([]float32(nil), b[:k*n]...)}
}

// Unpack implements Kernel.
func (openblasKernel) Unpack(p *Packed) []float32 {
	checkUnpack(p, "openblas")
	return append([]float32(nil), p.Data[:p.K*p.N]...)
}

// Mul implements Kernel. It panics if b was packed by another kernel or if
// the sizes fail the checks of check.
func (openblasKernel) Mul(m int, a []float32, lda int, b *Packed, c []float32, ldc int, ep Epilogue) {
	check(m, a, lda, b, c, ldc, ep)
	if b.Kernel != "openblas" {
		panic(fmt.Sprintf("gemm: the openblas kernel cannot multiply a matrix packed by the %q kernel (pack it with openblas)", b.Kernel))
	}
	if m <= 0 || b.N == 0 {
		return
	}
	k, n := b.K, b.N
	if k > 0 && lda < k {
		// cblas_sgemm rejects overlapping rows (lda < k), so copy them apart.
		dense := make([]float32, m*k)
		for i := 0; i < m; i++ {
			copy(dense[i*k:(i+1)*k], a[i*lda:i*lda+k])
		}
		a, lda = dense, k
	}
	switch {
	case k > 0:
		var beta float32
		if ep.Accumulate {
			beta = 1
		}
		cblas.Sgemm(m, n, k, a, lda, b.Data, n, beta, c, ldc)
	case !ep.Accumulate:
		// cblas_sgemm with k = 0 only scales C, and A and B may be empty.
		for i := 0; i < m; i++ {
			clear(c[i*ldc : i*ldc+n])
		}
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		for j, v := range row {
			if ep.Bias != nil {
				v += ep.Bias[j]
			}
			row[j] = ep.apply(v)
		}
	}
}
