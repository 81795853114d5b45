// Command _gen writes the amd64 assembly of package gemm: the AVX2+FMA and
// AVX-512 multiply kernels and a CPUID helper. It runs from go generate in
// the parent directory:
//
//	go run . -out ../asm_amd64.s -stubs ../asm_amd64.go -pkg gemm
//
// The panel kernels come from one parameterised emitter (kernel.go) and
// the thin-N kernels from another (dot.go). So the AVX2 and AVX-512
// kernels of a kind share their control flow, and differ only in vector
// width, register count and how the tails are masked.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

func main() {
	ConstraintExpr("amd64,!purego")

	// maskTable holds 32 words of all ones followed by 32 zero words.
	// maskTable[32-n:] starts with n ones, which makes the tail masks for
	// up to 32 columns or steps of k (see loadMasks).
	maskTable = GLOBL("maskTable", RODATA|NOPTR)
	for i := 0; i < 64; i++ {
		v := uint32(0)
		if i < 32 {
			v = 0xffffffff
		}
		DATA(4*i, U32(v))
	}
	// F32(6) would print as the integer $(6), so store the bits.
	six = ConstData("six", U32(math.Float32bits(6)))

	genCPUID()
	for _, s := range shapes {
		genKernel(s)
	}
	for _, s := range dotShapes {
		genDot(s)
	}
	Generate()
	fixHeaders()
}

// fixHeaders rewrites the command that avo names in the generated files'
// headers. avo names the file holding main ("go run main.go"), which would
// leave out kernel.go; the generator runs as "go run .".
func fixHeaders() {
	for _, name := range []string{"out", "stubs"} {
		path := flag.Lookup(name).Value.String()
		if path == "" {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		src = bytes.Replace(src, []byte("command: go run main.go"), []byte("command: go run ."), 1)
		if err := os.WriteFile(path, src, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}

// maskTable and six are the read-only data the kernels share.
var maskTable, six Mem

// shapes lists the generated kernels. The register block of each is mr rows
// by nv vectors: the accumulators take mr·nv vector registers, and the
// k-loop needs nv more for the row of B and one for a broadcast element of A.
var shapes = []shape{
	{isa: avx2, mr: 6, nv: 2},    // 12 + 2 + 1 = 15 of 16 ymm
	{isa: avx2, mr: 12, nv: 1},   // 12 + 1 + 1 = 14 of 16 ymm
	{isa: avx512, mr: 14, nv: 2}, // 28 + 2 + 1 = 31 of 32 zmm
	{isa: avx512, mr: 14, nv: 1}, // 14 + 1, A broadcast inside the FMA
}

func genCPUID() {
	TEXT("cpuid", NOSPLIT, "func(leaf, subleaf uint32) (eax, ebx, ecx, edx uint32)")
	Doc("cpuid executes the CPUID instruction for the given leaf and subleaf.")
	Load(Param("leaf"), reg.EAX)
	Load(Param("subleaf"), reg.ECX)
	CPUID()
	Store(reg.EAX, ReturnIndex(0))
	Store(reg.EBX, ReturnIndex(1))
	Store(reg.ECX, ReturnIndex(2))
	Store(reg.EDX, ReturnIndex(3))
	RET()
}

// isa is an instruction set the kernels are generated for.
type isa struct {
	name  string            // part of the function name
	lanes int               // float32 lanes per vector register
	regs  []reg.VecPhysical // vector registers the kernels may use
	// masked reports whether the column tail uses AVX-512 opmask registers;
	// otherwise it uses vmaskmovps with vector masks from maskTable.
	opmask bool
}

var (
	avx2 = isa{name: "AVX2", lanes: 8, regs: []reg.VecPhysical{
		reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5, reg.Y6, reg.Y7,
		reg.Y8, reg.Y9, reg.Y10, reg.Y11, reg.Y12, reg.Y13, reg.Y14, reg.Y15,
	}}
	avx512 = isa{name: "AVX512", lanes: 16, opmask: true, regs: []reg.VecPhysical{
		reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7,
		reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15,
		reg.Z16, reg.Z17, reg.Z18, reg.Z19, reg.Z20, reg.Z21, reg.Z22, reg.Z23,
		reg.Z24, reg.Z25, reg.Z26, reg.Z27, reg.Z28, reg.Z29, reg.Z30, reg.Z31,
	}}
)

// shape is one kernel: an mr-row by nv-vector register block.
type shape struct {
	isa
	mr, nv int
}

// v returns vector register i. The kernels assign vector registers by hand
// rather than through avo's allocator: the accumulators of a block with
// rows rows are registers 0 to rows·nv-1 and the k-loop and store step use
// the registers after them. The allocator's greedy colouring fails on the
// full 31-register AVX-512 block.
func (s shape) v(i int) reg.VecPhysical {
	if i >= len(s.regs) {
		panic(fmt.Sprintf("%s needs vector register %d of %d", s.funcName(), i, len(s.regs)))
	}
	return s.regs[i]
}

func (s shape) nr() int { return s.nv * s.lanes }

func (s shape) funcName() string { return fmt.Sprintf("mul%sx%dx%d", s.name, s.mr, s.nr()) }
