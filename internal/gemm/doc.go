// Package gemm multiplies float32 matrices for the convolution layers: C =
// act(A·B + bias), or act(C + A·B + bias) when accumulating, with A
// row-major and B packed once per layer.
//
// The convolution layers turn a block of output pixels into the rows of A
// (im2col), so M is a pixel count, K is kernel height × kernel width × input
// channels and N is the number of output channels. B holds the layer's
// weights and is packed when the model loads, in the layout of the kernel
// chosen at start-up. Mul is single-threaded; callers split M across
// goroutines and give each its own rows of A and C.
//
// The rows of A may overlap (lda < K), and Epilogue.Accumulate adds the
// product to C instead of replacing it. Together they let a convolution
// with stride 1 skip im2col: for one kernel row, the A of a row of output
// pixels is a row of the zero-padded input read in place with lda = input
// channels, and the output row is the sum of one product per kernel row.
//
// The kernel is chosen once, when the package initialises, from the CPU's
// features. The environment variable UPSCALER_GEMM forces one: "go" (the
// portable Go kernel, the only one on non-amd64 builds and with the purego
// build tag) or a name listed by Kernels.
//
// # Kernels
//
//   - "go": portable Go, a 4×8 block of C in local arrays.
//   - "avx2": generated assembly for CPUs with AVX2 and FMA.
//   - "avx512": generated assembly for CPUs with AVX512F, the default on
//     them. UPSCALER_GEMM=avx2 selects the AVX2 kernel instead.
//   - "openblas": cblas_sgemm from OpenBLAS followed by the epilogue in Go,
//     built only with the openblas tag and cgo, as a yardstick. It is the
//     default only where no SIMD kernel runs.
//
// The assembly in asm_amd64.s and its Go declarations in asm_amd64.go are
// written by the generator in _gen, a separate module that depends on
// github.com/mmcloughlin/avo, so this package does not. Regenerate them
// with
//
//	go generate ./internal/gemm/
//
// and never edit them by hand. Each assembly kernel multiplies all rows of
// A by one panel of B. The Go side, in simd_amd64.go, packs B, picks the
// cache blocks and loops over the panels.
//
// # Register blocking
//
// A kernel keeps an mr×nr block of C in vector registers. For each step p
// of k it loads one row of the B panel (nr floats, nv vectors), broadcasts
// a[i][p] for each of the mr rows and adds the products with FMA. That is mr·nv FMAs for nv loads of B and mr broadcasts of A, and
// mr·nv independent accumulators hide the FMA latency (4 cycles on two
// ports needs at least 8 in flight). The blocks fill the register file:
//
//	kernel  panel  block   registers
//	avx2    wide   6×16    12 accumulators + 2 for B + 1 broadcast = 15 of 16 ymm
//	avx2    narrow 12×8    12 + 1 + 1 = 14 of 16 ymm
//	avx512  wide   14×32   28 + 2 + 1 = 31 of 32 zmm
//	avx512  narrow 14×16   14 + 1, the broadcast folded into the FMA
//
// The wide panels serve most columns. A remainder of at most one vector
// gets a narrow panel, whose block has more rows so it still has enough
// accumulators (all of N when N is 5 to 8 on AVX2, and 5 to 16 on
// AVX-512). The columns of a panel past N are masked, so such a panel runs
// at ncols/nr of the full rate. Rows past the last full block of mr use a
// copy of the block code generated for that row count, so no row is
// masked.
//
// # Thin N
//
// With N ≤ 4 (the output convolutions with 3 channels) a panel would leave
// at least half of each FMA's lanes idle. So N ≤ 4 has its own kernels,
// which vectorise along k instead. Each accumulator holds one row of A
// times one column of B, a lane per step of k, and its lanes are summed
// once at the end. The blocks are mr rows × N columns:
//
//	kernel  N=1    N=2    N=3    N=4
//	avx2    8×1    6×2    4×3    2×4    (8-step chunks of k)
//	avx512  12×1   10×2   8×3    6×4    (16-step chunks of k)
//
// They read A in place, whole rows, and B packed by packChunks: chunks of
// 8 or 16 steps of k, column after column, zero past K. The last k mod 8
// (or 16) steps load A with a mask, so no row is read past its end. The
// old C (with Epilogue.Accumulate), the bias, the activation and the store
// work on scalars, one per output.
//
// # Packing
//
// Pack copies B into panels of nr columns, wide panels first and at most
// one narrow panel last. A panel is stored k-major (the nr weights of
// step p are contiguous), with zeros in the columns past N, and the packed
// data starts on a 64-byte boundary, so each step of the k-loop reads whole
// aligned vectors.
//
// A is not packed. The kernels read it in place with lda: row r of a block
// is one base+index·scale operand, where r = q·2^e with q odd, scale = 2^e,
// and q·lda·4 kept in a register for each odd q below mr. This saves a
// copy of A on every call. With N = 3 or 4 such a copy would cost about as
// much as the multiply, because each element of A then feeds one FMA.
//
// # Cache blocking
//
// For N > 4, Mul walks blocks of mc rows, then blocks of kc steps of k,
// then the panels, and the kernel walks blocks of mr rows. kc is chosen so that the
// kc×nr block of a wide panel fills half of the level 1 data cache, where
// every row block of the mc rows reuses it. mc is chosen so that the mc×kc
// block of A fills half of the level 2 cache, where every panel reuses
// it. The sizes come from CPUID (leaf 4 on Intel, 0x8000001D on AMD),
// with 32 KiB and 512 KiB when the CPU does not report them. K is split
// into equal blocks no deeper than kc, so K = 576 with kc = 256 runs as
// three blocks of 192. Every block after the first adds to the partial
// sums that the previous one stored in C, and only the last adds the bias
// and applies the activation. With Epilogue.Accumulate the first block
// adds to C too, by the same flag of the assembly kernels. The thin-N kernels take all of k in one
// pass: their n·K floats of B (at most 23 KiB for K = 1440) stay in L1.
//
// # Epilogue and edges
//
// The bias and the activation are applied in registers just before the
// store. LeakyReLU is max(x, 0) + alpha·min(x, 0), which rounds like the
// Go kernel's alpha·x. A partial panel writes only its first ncols columns:
// the AVX-512 kernels mask the loads and stores of C with opmask registers,
// and the AVX2 kernels use vmaskmovps, only on partial panels, because
// masked stores are slower than plain ones on some cores. The bias of a
// partial panel is copied into a zero-padded stack array, so the kernels
// read it without a mask.
//
// # Concurrency and allocation
//
// Kernels and packed matrices are read-only after construction. Mul keeps
// its state on the stack and in registers and allocates nothing, so any
// number of goroutines may call it at once on disjoint rows of C.
//
// # Testing
//
// The tests compare every kernel with a float64 reference, per element
// within (k+2)·2⁻²⁴·(Σ|a·b| + |C| + |bias|), on the model shapes and
// random shapes with tails, odd strides, odd offsets, overlapping rows of
// A and accumulation into C, and check guard regions around C. An interpreter for the generated assembly (emu_test.go) runs
// every assembly kernel on any CPU and checks every memory access, so the
// AVX-512 kernels are tested on machines without AVX-512.
//
// NOTE: the AVX-512 kernels have run only in that interpreter, not yet on
// an AVX-512 CPU, so their speed is unmeasured and the block and cache
// sizes for them are untuned.
package gemm

//go:generate go run -C _gen . -out ../asm_amd64.s -stubs ../asm_amd64.go -pkg gemm
