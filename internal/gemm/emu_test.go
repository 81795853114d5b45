package gemm

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
)

// This file holds an interpreter for the subset of Go amd64 assembly that
// the generator emits. It runs the generated kernels on any CPU, so the
// AVX-512 kernels are tested on machines without AVX-512, and it checks
// every memory access against the regions the kernel may touch, which the
// hardware does not. It follows the Intel SDM for each instruction,
// operands in Go's order (sources first, destination last). FMA is
// computed in float64 and rounded to float32, which can differ from a fused
// float32 FMA in the last bit (double rounding), well inside the tests'
// tolerance.

// asmProgram is the parsed generated assembly file.
type asmProgram struct {
	funcs   map[string][]asmInst
	labels  map[string]map[string]int // function → label → instruction index
	symbols map[string][]byte         // static data, by name without <>
	args    map[string]map[string]int // function → argument → frame offset
}

type asmInst struct {
	op   string
	args []string
	line int
}

// parseAsm reads the generated assembly and, from its Go declarations in
// stubs, the frame offsets of each function's arguments.
func parseAsm(path, stubs string) (*asmProgram, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	decls, err := os.ReadFile(stubs)
	if err != nil {
		return nil, err
	}
	p := &asmProgram{funcs: map[string][]asmInst{}, labels: map[string]map[string]int{},
		symbols: map[string][]byte{}, args: map[string]map[string]int{}}
	for _, line := range strings.Split(string(decls), "\n") {
		name, params, ok := strings.Cut(strings.TrimPrefix(line, "func "), "(")
		if !ok || !strings.HasPrefix(line, "func ") {
			continue
		}
		params, _, _ = strings.Cut(params, ")")
		layout := map[string]int{}
		off := 0
		for _, param := range strings.Split(params, ", ") {
			pname, ptype, _ := strings.Cut(param, " ")
			size := 8
			if ptype == "float32" || ptype == "uint32" {
				size = 4
			}
			off = (off + size - 1) / size * size
			layout[pname] = off
			off += size
		}
		p.args[name] = layout
	}
	var fn string
	for i, line := range strings.Split(string(src), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "//") || strings.HasPrefix(line, "#") {
			continue
		}
		op, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch {
		case op == "DATA":
			// DATA sym<>+off(SB)/size, $value
			lhs, val, _ := strings.Cut(rest, ", ")
			name, after, _ := strings.Cut(lhs, "<>+")
			offStr, sizeStr, _ := strings.Cut(after, "(SB)/")
			off, _ := strconv.Atoi(offStr)
			size, _ := strconv.Atoi(sizeStr)
			v, err := strconv.ParseUint(strings.TrimPrefix(val, "$"), 0, 64)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", i+1, err)
			}
			buf := p.symbols[name]
			for len(buf) < off+size {
				buf = append(buf, 0)
			}
			for b := 0; b < size; b++ {
				buf[off+b] = byte(v >> (8 * b))
			}
			p.symbols[name] = buf
		case op == "GLOBL":
		case op == "TEXT":
			name, _, _ := strings.Cut(strings.TrimPrefix(rest, "·"), "(SB)")
			fn = name
			p.labels[fn] = map[string]int{}
		case strings.HasSuffix(op, ":") && rest == "":
			p.labels[fn][strings.TrimSuffix(op, ":")] = len(p.funcs[fn])
		default:
			var args []string
			if rest != "" {
				for _, a := range strings.Split(rest, ",") {
					args = append(args, strings.TrimSpace(a))
				}
			}
			p.funcs[fn] = append(p.funcs[fn], asmInst{op: op, args: args, line: i + 1})
		}
	}
	return p, nil
}

// emuRegion is memory the kernel may access.
type emuRegion struct {
	name     string
	base     uint64
	data     []byte
	writable bool
}

// emuMachine is the state of one emulated call.
type emuMachine struct {
	prog    *asmProgram
	fn      string // function running
	regions []*emuRegion
	next    uint64
	gp      map[string]uint64
	vec     [32][16]uint32
	k       [8]uint16
	zf, lt  bool // zero, and signed less after CMPQ
	steps   int
}

func newMachine(p *asmProgram) *emuMachine {
	m := &emuMachine{prog: p, next: 0x10000, gp: map[string]uint64{}}
	for name, data := range p.symbols {
		m.alloc(name, data, false)
	}
	return m
}

// alloc maps data at a fresh address, 4096 bytes past the previous region
// so that an access past a region's end never lands in the next one.
func (m *emuMachine) alloc(name string, data []byte, writable bool) uint64 {
	r := &emuRegion{name: name, base: m.next, data: data, writable: writable}
	m.regions = append(m.regions, r)
	m.next += uint64(len(data)+4096+63) &^ 63
	return r.base
}

func (m *emuMachine) region(name string) *emuRegion {
	for _, r := range m.regions {
		if r.name == name {
			return r
		}
	}
	return nil
}

// access returns the n bytes at addr, or an error if they are not inside
// one region or the region is read-only and write is set.
func (m *emuMachine) access(addr uint64, n int, write bool) ([]byte, error) {
	for _, r := range m.regions {
		if addr >= r.base && addr+uint64(n) <= r.base+uint64(len(r.data)) {
			if write && !r.writable {
				return nil, fmt.Errorf("write to read-only %s at offset %d", r.name, addr-r.base)
			}
			return r.data[addr-r.base : addr-r.base+uint64(n)], nil
		}
	}
	return nil, fmt.Errorf("%d-byte access at %#x is outside every region", n, addr)
}

func (m *emuMachine) load32(addr uint64) (uint32, error) {
	b, err := m.access(addr, 4, false)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (m *emuMachine) store32(addr uint64, v uint32) error {
	b, err := m.access(addr, 4, true)
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(b, v)
	return nil
}

// vecReg returns the register number and lane count of a vector operand.
func vecReg(s string) (n, lanes int, ok bool) {
	switch {
	case strings.HasPrefix(s, "X"):
		lanes = 4
	case strings.HasPrefix(s, "Y"):
		lanes = 8
	case strings.HasPrefix(s, "Z"):
		lanes = 16
	default:
		return 0, 0, false
	}
	n, err := strconv.Atoi(s[1:])
	return n, lanes, err == nil
}

var gpNames = map[string]bool{"AX": true, "BX": true, "CX": true, "DX": true, "SI": true, "DI": true,
	"BP": true, "R8": true, "R9": true, "R10": true, "R11": true, "R12": true, "R13": true, "R14": true, "R15": true}

// addr returns the address of a memory operand: name+off(FP),
// sym<>+off(SB) or disp(base)(index*scale).
func (m *emuMachine) addr(s string) (uint64, error) {
	if strings.HasSuffix(s, "(FP)") {
		name, off, _ := strings.Cut(strings.TrimSuffix(s, "(FP)"), "+")
		o, _ := strconv.Atoi(off)
		r := m.region("frame")
		if want, ok := m.prog.args[m.fn][name]; !ok || want != o {
			return 0, fmt.Errorf("argument %s+%d(FP) does not match the declaration of %s", name, o, m.fn)
		}
		return r.base + uint64(o), nil
	}
	if strings.HasSuffix(s, "(SB)") {
		name, off, _ := strings.Cut(strings.TrimSuffix(s, "(SB)"), "<>+")
		r := m.region(name)
		if r == nil {
			return 0, fmt.Errorf("unknown symbol %s", name)
		}
		o, _ := strconv.Atoi(off)
		return r.base + uint64(o), nil
	}
	disp, rest, ok := strings.Cut(s, "(")
	if !ok {
		return 0, fmt.Errorf("bad memory operand %q", s)
	}
	var a uint64
	if disp != "" {
		d, err := strconv.ParseInt(disp, 0, 64)
		if err != nil {
			return 0, fmt.Errorf("bad displacement in %q", s)
		}
		a = uint64(d)
	}
	base, rest, _ := strings.Cut(rest, ")")
	if !gpNames[base] {
		return 0, fmt.Errorf("bad base register in %q", s)
	}
	a += m.gp[base]
	if rest != "" {
		idx, scale, _ := strings.Cut(strings.Trim(rest, "()"), "*")
		sc, err := strconv.Atoi(scale)
		if !gpNames[idx] || err != nil {
			return 0, fmt.Errorf("bad index in %q", s)
		}
		a += m.gp[idx] * uint64(sc)
	}
	return a, nil
}

func isMem(s string) bool { return strings.Contains(s, "(") }

// value returns an immediate or general-purpose register operand.
func (m *emuMachine) value(s string) (uint64, error) {
	if strings.HasPrefix(s, "$") {
		v, err := strconv.ParseInt(s[1:], 0, 64)
		return uint64(v), err
	}
	if gpNames[s] {
		return m.gp[s], nil
	}
	if isMem(s) {
		a, err := m.addr(s)
		if err != nil {
			return 0, err
		}
		b, err := m.access(a, 8, false)
		if err != nil {
			return 0, err
		}
		return binary.LittleEndian.Uint64(b), nil
	}
	return 0, fmt.Errorf("bad operand %q", s)
}

// vector returns lanes lanes of a vector register or memory operand. With
// bcast set it broadcasts one float from memory. It reads no memory for
// lanes outside mask.
func (m *emuMachine) vector(s string, lanes int, bcast bool, mask uint32) ([16]uint32, error) {
	var v [16]uint32
	if n, _, ok := vecReg(s); ok {
		return m.vec[n], nil
	}
	a, err := m.addr(s)
	if err != nil {
		return v, err
	}
	for i := 0; i < lanes; i++ {
		if mask&(1<<i) == 0 {
			continue
		}
		off := uint64(4 * i)
		if bcast {
			off = 0
		}
		if v[i], err = m.load32(a + off); err != nil {
			return v, err
		}
	}
	return v, nil
}

// setVec writes lanes lanes of register s; a VEX-encoded ymm write also
// zeroes the upper lanes.
func (m *emuMachine) setVec(s string, v [16]uint32, lanes int) error {
	n, _, ok := vecReg(s)
	if !ok {
		return fmt.Errorf("bad vector register %q", s)
	}
	for i := lanes; i < 16; i++ {
		v[i] = 0
	}
	m.vec[n] = v
	return nil
}

func f32(u uint32) float32 { return math.Float32frombits(u) }
func u32(f float32) uint32 { return math.Float32bits(f) }

// call runs function fn until RET.
func (m *emuMachine) call(fn string) error {
	code, ok := m.prog.funcs[fn]
	if !ok {
		return fmt.Errorf("no function %s", fn)
	}
	m.fn = fn
	labels := m.prog.labels[fn]
	for pc := 0; pc < len(code); {
		in := code[pc]
		pc++
		m.steps++
		if m.steps > 50_000_000 {
			return fmt.Errorf("%s: too many steps, stuck at line %d", fn, in.line)
		}
		jump, ret, err := m.exec(in)
		if err != nil {
			return fmt.Errorf("%s line %d (%s %s): %v", fn, in.line, in.op, strings.Join(in.args, ", "), err)
		}
		if ret {
			return nil
		}
		if jump != "" {
			target, ok := labels[jump]
			if !ok {
				return fmt.Errorf("%s line %d: unknown label %s", fn, in.line, jump)
			}
			pc = target
		}
	}
	return fmt.Errorf("%s: ran past the end without RET", fn)
}

// exec runs one instruction and returns the label to jump to, if any, and
// whether it returned.
func (m *emuMachine) exec(in asmInst) (jump string, ret bool, err error) {
	a := in.args
	want := func(n int) error {
		if len(a) != n {
			return fmt.Errorf("want %d operands, have %d", n, len(a))
		}
		return nil
	}
	setFlags := func(r uint64) { m.zf, m.lt = r == 0, int64(r) < 0 }

	switch in.op {
	case "RET":
		return "", true, nil
	case "JMP":
		return a[0], false, nil
	case "JZ", "JEQ":
		if m.zf {
			return a[0], false, nil
		}
		return "", false, nil
	case "JNZ", "JNE":
		if !m.zf {
			return a[0], false, nil
		}
		return "", false, nil
	case "JL":
		if m.lt {
			return a[0], false, nil
		}
		return "", false, nil

	case "MOVQ":
		if err := want(2); err != nil {
			return "", false, err
		}
		v, err := m.value(a[0])
		if err != nil {
			return "", false, err
		}
		if gpNames[a[1]] {
			m.gp[a[1]] = v
			return "", false, nil
		}
		addr, err := m.addr(a[1])
		if err != nil {
			return "", false, err
		}
		b, err := m.access(addr, 8, true)
		if err != nil {
			return "", false, err
		}
		binary.LittleEndian.PutUint64(b, v)
	case "LEAQ":
		addr, err := m.addr(a[0])
		if err != nil {
			return "", false, err
		}
		m.gp[a[1]] = addr
	case "ADDQ", "SUBQ", "ANDQ", "SHLQ", "SHRQ":
		if err := want(2); err != nil {
			return "", false, err
		}
		v, err := m.value(a[0])
		if err != nil {
			return "", false, err
		}
		if !gpNames[a[1]] {
			return "", false, fmt.Errorf("destination must be a register")
		}
		d := m.gp[a[1]]
		switch in.op {
		case "ADDQ":
			d += v
		case "SUBQ":
			d -= v
		case "ANDQ":
			d &= v
		case "SHLQ":
			d <<= v
		case "SHRQ":
			d >>= v
		}
		m.gp[a[1]] = d
		setFlags(d)
	case "DECQ":
		m.gp[a[0]]--
		setFlags(m.gp[a[0]])
	case "IMUL3Q":
		if err := want(3); err != nil {
			return "", false, err
		}
		imm, err := m.value(a[0])
		if err != nil {
			return "", false, err
		}
		src, err := m.value(a[1])
		if err != nil {
			return "", false, err
		}
		m.gp[a[2]] = imm * src
	case "TESTQ":
		x, err := m.value(a[0])
		if err != nil {
			return "", false, err
		}
		y, err := m.value(a[1])
		if err != nil {
			return "", false, err
		}
		setFlags(x & y)
	case "CMPQ":
		x, err := m.value(a[0])
		if err != nil {
			return "", false, err
		}
		y, err := m.value(a[1])
		if err != nil {
			return "", false, err
		}
		m.zf, m.lt = x == y, int64(x) < int64(y)

	case "VXORPS", "VPXORD":
		if err := want(3); err != nil {
			return "", false, err
		}
		_, lanes, ok := vecReg(a[2])
		if !ok || isMem(a[0]) || isMem(a[1]) {
			return "", false, fmt.Errorf("unsupported form")
		}
		if in.op == "VPXORD" && lanes != 16 {
			return "", false, fmt.Errorf("VPXORD on ymm needs AVX512VL")
		}
		x, _ := m.vector(a[0], lanes, false, 0xffff)
		y, _ := m.vector(a[1], lanes, false, 0xffff)
		for i := range x {
			x[i] ^= y[i]
		}
		return "", false, m.setVec(a[2], x, lanes)
	case "VMOVUPS":
		return "", false, m.movups(a)
	case "VBROADCASTSS":
		_, lanes, ok := vecReg(a[1])
		if !ok || !isMem(a[0]) {
			return "", false, fmt.Errorf("unsupported form")
		}
		v, err := m.vector(a[0], lanes, true, 0xffff)
		if err != nil {
			return "", false, err
		}
		return "", false, m.setVec(a[1], v, lanes)
	case "VFMADD231PS", "VFMADD231PS.BCST":
		if err := want(3); err != nil {
			return "", false, err
		}
		_, lanes, ok := vecReg(a[2])
		if !ok {
			return "", false, fmt.Errorf("unsupported form")
		}
		x, err := m.vector(a[0], lanes, in.op == "VFMADD231PS.BCST", 0xffff)
		if err != nil {
			return "", false, err
		}
		y, _ := m.vector(a[1], lanes, false, 0xffff)
		d, _ := m.vector(a[2], lanes, false, 0xffff)
		for i := 0; i < lanes; i++ {
			d[i] = u32(float32(math.FMA(float64(f32(y[i])), float64(f32(x[i])), float64(f32(d[i])))))
		}
		return "", false, m.setVec(a[2], d, lanes)
	case "VADDPS", "VMAXPS", "VMINPS":
		if err := want(3); err != nil {
			return "", false, err
		}
		_, lanes, ok := vecReg(a[2])
		if !ok {
			return "", false, fmt.Errorf("unsupported form")
		}
		src2, err := m.vector(a[0], lanes, false, 0xffff)
		if err != nil {
			return "", false, err
		}
		src1, _ := m.vector(a[1], lanes, false, 0xffff)
		var d [16]uint32
		for i := 0; i < lanes; i++ {
			x, y := f32(src1[i]), f32(src2[i])
			switch in.op {
			case "VADDPS":
				d[i] = u32(x + y)
			case "VMAXPS": // src1 if src1 > src2, else src2 (also for NaN and ±0)
				d[i] = src2[i]
				if x > y {
					d[i] = src1[i]
				}
			case "VMINPS":
				d[i] = src2[i]
				if x < y {
					d[i] = src1[i]
				}
			}
		}
		return "", false, m.setVec(a[2], d, lanes)
	case "VADDPS.Z":
		// VADDPS.Z src2, src1, K, dst: lanes outside K are zeroed, and
		// their memory is not read.
		if err := want(4); err != nil {
			return "", false, err
		}
		_, lanes, ok := vecReg(a[3])
		if !ok {
			return "", false, fmt.Errorf("unsupported form")
		}
		mask, err := m.opmask(a[2])
		if err != nil {
			return "", false, err
		}
		src2, err := m.vector(a[0], lanes, false, mask)
		if err != nil {
			return "", false, err
		}
		src1, _ := m.vector(a[1], lanes, false, 0xffff)
		var d [16]uint32
		for i := 0; i < lanes; i++ {
			if mask&(1<<i) != 0 {
				d[i] = u32(f32(src1[i]) + f32(src2[i]))
			}
		}
		return "", false, m.setVec(a[3], d, lanes)
	case "VPTESTMD":
		if err := want(3); err != nil {
			return "", false, err
		}
		x, _ := m.vector(a[0], 16, false, 0xffff)
		y, _ := m.vector(a[1], 16, false, 0xffff)
		var k uint16
		for i := 0; i < 16; i++ {
			if x[i]&y[i] != 0 {
				k |= 1 << i
			}
		}
		n, err := kReg(a[2])
		if err != nil {
			return "", false, err
		}
		m.k[n] = k
	case "VMASKMOVPS":
		return "", false, m.maskmov(a)
	case "VMOVUPS.Z":
		// VMOVUPS.Z mem, K, dst: load the lanes in K, zero the others.
		if err := want(3); err != nil {
			return "", false, err
		}
		_, lanes, ok := vecReg(a[2])
		if !ok || !isMem(a[0]) {
			return "", false, fmt.Errorf("unsupported form")
		}
		mask, err := m.opmask(a[1])
		if err != nil {
			return "", false, err
		}
		v, err := m.vector(a[0], lanes, false, mask)
		if err != nil {
			return "", false, err
		}
		return "", false, m.setVec(a[2], v, lanes)
	case "VEXTRACTF128":
		// VEXTRACTF128 $i, ysrc, xdst: 128-bit half i of ysrc.
		if err := want(3); err != nil {
			return "", false, err
		}
		i, err := m.value(a[0])
		if err != nil {
			return "", false, err
		}
		src, _ := m.vector(a[1], 8, false, 0xffff)
		var d [16]uint32
		copy(d[:4], src[4*(i&1):4*(i&1)+4])
		return "", false, m.setVec(a[2], d, 4)
	case "VSHUFF32X4":
		// VSHUFF32X4 $imm, src2, src1, dst: 128-bit lanes 0 and 1 of dst
		// from src1, lanes 2 and 3 from src2, each chosen by two bits.
		if err := want(4); err != nil {
			return "", false, err
		}
		imm, err := m.value(a[0])
		if err != nil {
			return "", false, err
		}
		src2, _ := m.vector(a[1], 16, false, 0xffff)
		src1, _ := m.vector(a[2], 16, false, 0xffff)
		var d [16]uint32
		for l := 0; l < 4; l++ {
			src := src1
			if l >= 2 {
				src = src2
			}
			sel := int(imm>>(2*l)) & 3
			copy(d[4*l:4*l+4], src[4*sel:4*sel+4])
		}
		return "", false, m.setVec(a[3], d, 16)
	case "VPERMILPS":
		// VPERMILPS $imm, src, dst: within each 128-bit lane, dst[i] =
		// src[imm bits 2i+1:2i].
		if err := want(3); err != nil {
			return "", false, err
		}
		imm, err := m.value(a[0])
		if err != nil {
			return "", false, err
		}
		_, lanes, ok := vecReg(a[2])
		if !ok {
			return "", false, fmt.Errorf("unsupported form")
		}
		src, _ := m.vector(a[1], lanes, false, 0xffff)
		var d [16]uint32
		for i := 0; i < lanes; i++ {
			d[i] = src[i&^3+int(imm>>(2*(i&3)))&3]
		}
		return "", false, m.setVec(a[2], d, lanes)
	case "VADDSS", "VMAXSS", "VMINSS", "VFMADD231SS":
		return "", false, m.scalar(in.op, a)
	case "VMOVSS":
		if err := want(2); err != nil {
			return "", false, err
		}
		if isMem(a[0]) {
			v, err := m.vector(a[0], 1, false, 1)
			if err != nil {
				return "", false, err
			}
			return "", false, m.setVec(a[1], v, 1)
		}
		return "", false, m.storeLanes(a[0], a[1], 1, 1)
	default:
		return "", false, fmt.Errorf("instruction not emulated")
	}
	return "", false, nil
}

// scalar runs a scalar single-precision instruction: lane 0 of the
// destination gets the result, lanes 1-3 come from the first source (the
// destination for VFMADD231SS), and the lanes above 3 are zeroed.
func (m *emuMachine) scalar(op string, a []string) error {
	if len(a) != 3 {
		return fmt.Errorf("want 3 operands")
	}
	src2, err := m.vector(a[0], 1, false, 1)
	if err != nil {
		return err
	}
	src1, _ := m.vector(a[1], 4, false, 0xffff)
	d, _ := m.vector(a[2], 4, false, 0xffff)
	x, y := f32(src1[0]), f32(src2[0])
	switch op {
	case "VADDSS":
		d = src1
		d[0] = u32(x + y)
	case "VMAXSS":
		d = src1
		if !(x > y) {
			d[0] = src2[0]
		}
	case "VMINSS":
		d = src1
		if !(x < y) {
			d[0] = src2[0]
		}
	case "VFMADD231SS":
		d[0] = u32(float32(math.FMA(float64(x), float64(y), float64(f32(d[0])))))
	}
	return m.setVec(a[2], d, 4)
}

func kReg(s string) (int, error) {
	if len(s) == 2 && s[0] == 'K' && s[1] >= '1' && s[1] <= '7' {
		return int(s[1] - '0'), nil
	}
	return 0, fmt.Errorf("bad opmask register %q", s)
}

func (m *emuMachine) opmask(s string) (uint32, error) {
	n, err := kReg(s)
	return uint32(m.k[n]), err
}

// movups runs VMOVUPS: load, store, or store of the lanes in K.
func (m *emuMachine) movups(a []string) error {
	switch len(a) {
	case 2:
		if _, lanes, ok := vecReg(a[1]); ok {
			v, err := m.vector(a[0], lanes, false, 0xffff)
			if err != nil {
				return err
			}
			return m.setVec(a[1], v, lanes)
		}
		_, lanes, ok := vecReg(a[0])
		if !ok {
			return fmt.Errorf("unsupported form")
		}
		return m.storeLanes(a[0], a[1], lanes, 0xffff)
	case 3:
		_, lanes, ok := vecReg(a[0])
		if !ok || !isMem(a[2]) {
			return fmt.Errorf("unsupported form")
		}
		mask, err := m.opmask(a[1])
		if err != nil {
			return err
		}
		return m.storeLanes(a[0], a[2], lanes, mask)
	}
	return fmt.Errorf("unsupported form")
}

func (m *emuMachine) storeLanes(src, dst string, lanes int, mask uint32) error {
	v, _ := m.vector(src, lanes, false, 0xffff)
	addr, err := m.addr(dst)
	if err != nil {
		return err
	}
	for i := 0; i < lanes; i++ {
		if mask&(1<<i) != 0 {
			if err := m.store32(addr+uint64(4*i), v[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// maskmov runs VMASKMOVPS, whose mask is the sign bit of each lane of a
// vector register: VMASKMOVPS mem, mask, dst loads, VMASKMOVPS src, mask,
// mem stores.
func (m *emuMachine) maskmov(a []string) error {
	if len(a) != 3 {
		return fmt.Errorf("want 3 operands")
	}
	n, lanes, ok := vecReg(a[1])
	if !ok || lanes != 8 {
		return fmt.Errorf("unsupported form")
	}
	var mask uint32
	for i := 0; i < lanes; i++ {
		if m.vec[n][i]>>31 != 0 {
			mask |= 1 << i
		}
	}
	if isMem(a[0]) {
		v, err := m.vector(a[0], lanes, false, mask)
		if err != nil {
			return err
		}
		return m.setVec(a[2], v, lanes)
	}
	return m.storeLanes(a[0], a[2], lanes, mask)
}

// floatBytes returns the little-endian bytes of v.
func floatBytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func bytesFloats(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}
