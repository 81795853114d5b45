//go:build amd64 && !purego

package gemm

import (
	"testing"
	"unsafe"
)

func TestBlockDepth(t *testing.T) {
	tests := []struct{ k, kcMax, want int }{
		{0, 256, 0},
		{27, 256, 27},
		{256, 256, 256},
		{257, 256, 132}, // two blocks of 129, rounded up to 132
		{576, 256, 192}, // three blocks
		{1440, 256, 240},
		{1440, 128, 120}, // 12 blocks
	}
	for _, tt := range tests {
		got := blockDepth(tt.k, tt.kcMax)
		if got != tt.want {
			t.Errorf("blockDepth(%d, %d) = %d, want %d", tt.k, tt.kcMax, got, tt.want)
		}
		if tt.k > 0 && (got > tt.kcMax+3 || got <= 0) {
			t.Errorf("blockDepth(%d, %d) = %d, outside (0, kcMax+3]", tt.k, tt.kcMax, got)
		}
	}
}

// TestPackPanels checks the panel layout of N > maxDotN. Smaller N use
// packChunks, checked by TestPackChunks.
func TestPackPanels(t *testing.T) {
	tests := []struct {
		shapes simdShapes
		n      int
		want   []int // panel widths
	}{
		{avx2Shapes, 5, []int{8}},
		{avx2Shapes, 8, []int{8}},
		{avx2Shapes, 12, []int{16}},
		{avx2Shapes, 37, []int{16, 16, 8}},
		{avx2Shapes, 64, []int{16, 16, 16, 16}},
		{avx512Shapes, 5, []int{16}},
		{avx512Shapes, 12, []int{16}},
		{avx512Shapes, 48, []int{32, 16}},
		{avx512Shapes, 49, []int{32, 32}},
		{avx512Shapes, 192, []int{32, 32, 32, 32, 32, 32}},
	}
	for _, tt := range tests {
		kern := newSIMDKernel("test", tt.shapes, defaultL1D, defaultL2)
		var got []int
		for j0 := 0; j0 < tt.n; {
			p := kern.panel(tt.n - j0)
			got = append(got, p.nr)
			j0 += min(p.nr, tt.n-j0)
		}
		if len(got) != len(tt.want) {
			t.Errorf("panels of N=%d with nr %d/%d = %v, want %v", tt.n, tt.shapes.wide.nr, tt.shapes.narrow.nr, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("panels of N=%d with nr %d/%d = %v, want %v", tt.n, tt.shapes.wide.nr, tt.shapes.narrow.nr, got, tt.want)
				break
			}
		}

		// The packed data is aligned, zero past N, and holds B in order.
		const k = 3
		b := make([]float32, k*tt.n)
		for i := range b {
			b[i] = float32(i + 1)
		}
		p := kern.Pack(b, k, tt.n)
		if addr := uintptr(unsafe.Pointer(&p.Data[0])); addr%64 != 0 {
			t.Errorf("Pack(N=%d) data at %#x, want a 64-byte boundary", tt.n, addr)
		}
		off, j0 := 0, 0
		for _, w := range got {
			for i := 0; i < k; i++ {
				for j := 0; j < w; j++ {
					want := float32(0)
					if j0+j < tt.n {
						want = b[i*tt.n+j0+j]
					}
					if v := p.Data[off+i*w+j]; v != want {
						t.Fatalf("Pack(N=%d) panel at column %d, row %d, column %d = %g, want %g", tt.n, j0, i, j, v, want)
					}
				}
			}
			off += k * w
			j0 += min(w, tt.n-j0)
		}
		if off != len(p.Data) {
			t.Errorf("Pack(N=%d) has %d floats, want %d", tt.n, len(p.Data), off)
		}
	}
}

func TestCacheSizes(t *testing.T) {
	l1d, l2 := cacheSizes()
	t.Logf("level 1 data cache %d KiB, level 2 cache %d KiB", l1d>>10, l2>>10)
	if l1d < 8<<10 || l1d > 1<<20 {
		t.Errorf("cacheSizes() level 1 data = %d bytes, want 8 KiB to 1 MiB", l1d)
	}
	if l2 < l1d || l2 > 64<<20 {
		t.Errorf("cacheSizes() level 2 = %d bytes, want between level 1 (%d) and 64 MiB", l2, l1d)
	}
	for _, kern := range platformKernels() {
		s := kern.(*simdKernel)
		t.Logf("%s: kc %d, mc %d", s.name, s.kc, s.mc)
		if s.mc%s.wide.mr != 0 || s.mc%s.narrow.mr != 0 {
			t.Errorf("%s: mc = %d, want a multiple of %d and %d", s.name, s.mc, s.wide.mr, s.narrow.mr)
		}
	}
}

// TestUnpackSIMDLayouts checks Unpack on both SIMD layouts, AVX-512's too,
// whichever this CPU runs.
func TestUnpackSIMDLayouts(t *testing.T) {
	for _, shapes := range []simdShapes{avx2Shapes, avx512Shapes} {
		kern := newSIMDKernel("test", shapes, defaultL1D, defaultL2)
		for _, size := range [][2]int{{1, 1}, {9, 3}, {17, 4}, {5, 5}, {3, 48}, {7, 49}, {2, 192}} {
			k, n := size[0], size[1]
			b := make([]float32, k*n)
			for i := range b {
				b[i] = float32(i + 1)
			}
			got := kern.Unpack(kern.Pack(b, k, n))
			for i := range b {
				if got[i] != b[i] {
					t.Errorf("lanes %d, %d×%d: Unpack(Pack(b))[%d] = %v, want %v", shapes.lanes, k, n, i, got[i], b[i])
					break
				}
			}
		}
	}
}
