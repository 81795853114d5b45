//go:build openblas && cgo

package cblas

/*
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
*/
import "C"

// SetThreads sets how many threads each OpenBLAS call may use.
func SetThreads(n int) { C.openblas_set_num_threads(C.int(n)) }

// Sgemm computes the row-major product C = A·B + beta·C of the m×k matrix
// A and the k×n matrix B into the m×n matrix C; with beta = 0 the old C is
// not read. The leading dimensions lda, ldb and ldc are the distances
// between rows in elements. The caller checks that the slices are long
// enough and that m, n and k are positive.
func Sgemm(m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	C.cblas_sgemm(C.CblasRowMajor, C.CblasNoTrans, C.CblasNoTrans,
		C.blasint(m), C.blasint(n), C.blasint(k),
		1, (*C.float)(&a[0]), C.blasint(lda),
		(*C.float)(&b[0]), C.blasint(ldb),
		C.float(beta), (*C.float)(&c[0]), C.blasint(ldc))
}
