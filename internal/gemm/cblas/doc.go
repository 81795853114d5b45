// Package cblas calls OpenBLAS's single-precision matrix multiply through
// cgo. It is built only with the openblas tag (and cgo), and links Debian's
// libopenblas-dev (-lopenblas). Package gemm uses it for a reference
// kernel; it lives apart because the go command rejects Go assembly in a
// package that uses cgo.
package cblas
