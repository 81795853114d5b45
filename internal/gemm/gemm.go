package gemm

import (
	"fmt"
	"os"
)

// Activation is an activation applied to each output element as it is
// stored, after the bias is added.
type Activation uint8

// Activations that Mul can apply while storing C. Others run as a separate
// pass in the caller.
const (
	Linear    Activation = iota // x
	ReLU                        // max(x, 0)
	ReLU6                       // min(max(x, 0), 6)
	LeakyReLU                   // x if x > 0, else Alpha·x
)

// Epilogue describes the work done on each accumulated element before it is
// stored: add the old value of C (when Accumulate is set), add Bias[j]
// (when Bias is not nil) and apply Act.
//
// Accumulate lets a caller sum several products into one C: the first call
// without it, the later ones with it, and only the last with the bias and
// the activation.
type Epilogue struct {
	Bias       []float32
	Act        Activation
	Alpha      float32 // slope for LeakyReLU
	Accumulate bool    // add the product to what C holds instead of replacing it
}

// Kernel is one implementation of packing and multiplication. The portable
// Go kernel is always available; SIMD kernels register themselves on the
// platforms that have them.
type Kernel interface {
	// Name identifies the kernel for UPSCALER_GEMM and benchmark labels.
	Name() string
	// Pack lays out the k×n row-major matrix b for Mul.
	Pack(b []float32, k, n int) *Packed
	// Unpack returns the k×n row-major matrix that p was packed from. It
	// panics if p was packed by another kernel.
	Unpack(p *Packed) []float32
	// Mul computes c[i*ldc+j] = ep(sum over p of a[i*lda+p]·B[p][j]) for
	// i < m and j < B.N, where ep adds the old c[i*ldc+j] first when
	// ep.Accumulate is set. It writes no other element of c. The rows of A
	// may overlap (lda < B.K), as when A is read in place from an image.
	Mul(m int, a []float32, lda int, b *Packed, c []float32, ldc int, ep Epilogue)
}

// Packed is a right-hand matrix laid out for one kernel. It is read-only
// after packing and safe for concurrent use by many Mul calls.
type Packed struct {
	K, N   int
	Kernel string    // name of the kernel that packed it
	Data   []float32 // layout private to that kernel
}

var (
	kernels = []Kernel{goKernel{}}
	current Kernel
)

func init() {
	kernels = append(kernels, libraryKernels()...)
	kernels = append(kernels, platformKernels()...)
	current = kernels[len(kernels)-1]
	if name := os.Getenv("UPSCALER_GEMM"); name != "" {
		k, err := Lookup(name)
		if err != nil {
			// A wrong setting must not pass silently, so report it once and
			// keep the best kernel.
			fmt.Fprintf(os.Stderr, "upscaler: %v; using %q\n", err, current.Name())
			return
		}
		current = k
	}
}

// Kernels returns the kernels this CPU and build can run: the Go kernel
// first, then the OpenBLAS kernel when built with the openblas tag, then
// the assembly kernels, fastest last. The last one is the default.
func Kernels() []Kernel { return append([]Kernel(nil), kernels...) }

// Lookup returns the kernel with the given name, or an error listing the
// kernels this CPU can run.
func Lookup(name string) (Kernel, error) {
	var names []string
	for _, k := range kernels {
		if k.Name() == name {
			return k, nil
		}
		names = append(names, k.Name())
	}
	return nil, fmt.Errorf("gemm: kernel %q is not available on this CPU (available: %v)", name, names)
}

// Default returns the kernel chosen at start-up.
func Default() Kernel { return current }

// check panics if the arguments of Mul would index outside a, c or the bias.
// Kernels call it once per Mul, so the inner loops can trust the sizes.
func check(m int, a []float32, lda int, b *Packed, c []float32, ldc int, ep Epilogue) {
	if m == 0 || b.N == 0 {
		return
	}
	if lda < 0 || ldc < b.N {
		panic(fmt.Sprintf("gemm: lda %d < 0 or ldc %d < N %d", lda, ldc, b.N))
	}
	if len(a) < (m-1)*lda+b.K || len(c) < (m-1)*ldc+b.N {
		panic(fmt.Sprintf("gemm: a (%d) or c (%d) too short for m=%d", len(a), len(c), m))
	}
	if ep.Bias != nil && len(ep.Bias) < b.N {
		panic(fmt.Sprintf("gemm: bias has %d elements, need %d", len(ep.Bias), b.N))
	}
}

// checkUnpack panics if p was not packed by the kernel named kernel.
func checkUnpack(p *Packed, kernel string) {
	if p.Kernel != kernel {
		panic(fmt.Sprintf("gemm: the %s kernel cannot unpack a matrix packed by the %q kernel", kernel, p.Kernel))
	}
}

// checkPack panics if b cannot hold a k×n matrix.
func checkPack(b []float32, k, n int) {
	if k < 0 || n < 0 {
		panic(fmt.Sprintf("gemm: negative matrix size %d×%d", k, n))
	}
	if len(b) < k*n {
		panic(fmt.Sprintf("gemm: b has %d elements, need k·n = %d·%d = %d", len(b), k, n, k*n))
	}
}

// apply returns v after the epilogue's activation.
func (ep *Epilogue) apply(v float32) float32 {
	switch ep.Act {
	case ReLU:
		if v < 0 {
			v = 0
		}
	case ReLU6:
		v = min(max(v, 0), 6)
	case LeakyReLU:
		if v < 0 {
			v *= ep.Alpha
		}
	}
	return v
}
