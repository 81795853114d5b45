package gemm

import (
	"testing"
	"unsafe"
)

func TestPackChunks(t *testing.T) {
	tests := []struct{ k, n, width int }{
		{0, 3, 8}, {1, 1, 8}, {7, 3, 8}, {8, 4, 8}, {27, 3, 16}, {576, 4, 16},
	}
	for _, tt := range tests {
		b := make([]float32, tt.k*tt.n)
		for i := range b {
			b[i] = float32(i + 1)
		}
		data := packChunks(b, tt.k, tt.n, tt.width)
		chunks := (tt.k + tt.width - 1) / tt.width
		if len(data) != chunks*tt.width*tt.n {
			t.Errorf("packChunks(k=%d, n=%d, width=%d) has %d floats, want %d", tt.k, tt.n, tt.width, len(data), chunks*tt.width*tt.n)
			continue
		}
		if len(data) > 0 && uintptr(unsafe.Pointer(&data[0]))%64 != 0 {
			t.Errorf("packChunks(k=%d, n=%d, width=%d) data not on a 64-byte boundary", tt.k, tt.n, tt.width)
		}
		for c := 0; c < chunks; c++ {
			for j := 0; j < tt.n; j++ {
				for l := 0; l < tt.width; l++ {
					want := float32(0)
					if p := c*tt.width + l; p < tt.k {
						want = b[p*tt.n+j]
					}
					if got := data[c*tt.width*tt.n+j*tt.width+l]; got != want {
						t.Fatalf("packChunks(k=%d, n=%d, width=%d) chunk %d column %d lane %d = %g, want %g", tt.k, tt.n, tt.width, c, j, l, got, want)
					}
				}
			}
		}
	}
}
