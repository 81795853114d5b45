package gemm

import "unsafe"

// packChunks lays out the k×n row-major matrix b for the thin-N assembly
// kernels: chunks of width steps of k, and in each chunk the width values
// of column 0, then of column 1, and so on, zero past k:
//
//	data[p/width*width*n + j*width + p%width] = b[p*n+j]
//
// The data starts on a 64-byte boundary.
func packChunks(b []float32, k, n, width int) []float32 {
	chunks := (k + width - 1) / width
	data := alignedFloats(chunks * width * n)
	for p := 0; p < k; p++ {
		base := p/width*width*n + p%width
		for j := 0; j < n; j++ {
			data[base+j*width] = b[p*n+j]
		}
	}
	return data
}

// alignedFloats returns n zeroed floats starting at a 64-byte boundary, the
// size of a cache line and of a zmm register.
func alignedFloats(n int) []float32 {
	if n == 0 {
		return nil
	}
	buf := make([]float32, n+15)
	skip := (64 - int(uintptr(unsafe.Pointer(&buf[0]))%64)) % 64 / 4
	return buf[skip : skip+n : skip+n]
}
