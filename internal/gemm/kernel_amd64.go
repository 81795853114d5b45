//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

// platformKernels returns the SIMD kernels this CPU supports, slowest
// first. x/sys/cpu reports AVX2, FMA and AVX512F only when the operating
// system also saves the matching register state.
func platformKernels() []Kernel {
	l1d, l2 := cacheSizes()
	var ks []Kernel
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, newSIMDKernel("avx2", avx2Shapes, l1d, l2))
	}
	// NOTE: on an AMD Zen 4 core, which splits each 512-bit operation in
	// two, the avx512 kernel ran these models at the avx2 kernel's speed.
	// It has not been timed on an Intel core with two 512-bit FMA units.
	if cpu.X86.HasAVX512F {
		ks = append(ks, newSIMDKernel("avx512", avx512Shapes, l1d, l2))
	}
	return ks
}

// Default cache sizes, used when CPUID does not describe the caches (some
// hypervisors hide the cache leaves). They are the smallest of recent x86
// server cores, so the blocks still fit on larger ones.
const (
	defaultL1D = 32 << 10
	defaultL2  = 512 << 10
)

// cacheSizes returns the sizes in bytes of the level 1 data cache and the
// level 2 cache of one core, from CPUID.
func cacheSizes() (l1d, l2 int) {
	l1d, l2 = defaultL1D, defaultL2
	maxLeaf, b, c, d := cpuid(0, 0)
	vendor := string(le32(b)) + string(le32(d)) + string(le32(c))
	leaf := uint32(4) // Intel: deterministic cache parameters
	switch vendor {
	case "GenuineIntel":
		if maxLeaf < 4 {
			return l1d, l2
		}
	case "AuthenticAMD", "HygonGenuine":
		// AMD reports the same layout in leaf 0x8000001D when the
		// topology extensions (leaf 0x80000001, ECX bit 22) are present.
		maxExt, _, _, _ := cpuid(0x80000000, 0)
		if maxExt < 0x8000001d {
			return l1d, l2
		}
		if _, _, ecx, _ := cpuid(0x80000001, 0); ecx&(1<<22) == 0 {
			return l1d, l2
		}
		leaf = 0x8000001d
	default:
		return l1d, l2
	}
	for sub := uint32(0); sub < 16; sub++ {
		eax, ebx, ecx, _ := cpuid(leaf, sub)
		kind := eax & 0x1f // 0 no more caches, 1 data, 2 instruction, 3 unified
		if kind == 0 {
			break
		}
		level := (eax >> 5) & 0x7
		ways := int(ebx>>22) + 1
		partitions := int((ebx>>12)&0x3ff) + 1
		line := int(ebx&0xfff) + 1
		sets := int(ecx) + 1
		size := ways * partitions * line * sets
		switch {
		case level == 1 && kind == 1:
			l1d = size
		case level == 2 && (kind == 3 || kind == 1):
			l2 = size
		}
	}
	return l1d, l2
}

// le32 returns the four bytes of v in little-endian order.
func le32(v uint32) []byte {
	return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
}
