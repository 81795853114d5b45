package upscaler_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/tensor"
)

// TestPatchMemoryFlat checks that an upscale in patches holds, besides the
// caller's input and its output, a working set that does not grow with the
// image: the input is read in place and every window reuses one set of
// buffers. After each patch it collects garbage and reads the live heap.
func TestPatchMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("collects garbage after each of 130 patches")
	}
	u := defaultUpscaler(t)
	working := func(side int) int64 {
		in := tensor.New(side, side, 3)
		for i := range in.Data {
			in.Data[i] = float32(i * 7 % 256)
		}
		var peak uint64
		opts := &upscaler.Options{PatchSize: 32, Padding: 4, Progress: func(upscaler.Progress) {
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}}
		// Two collections empty the sync.Pools first. Otherwise the
		// collections during the call would empty them and hide growth.
		runtime.GC()
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		res, err := u.Upscale(context.Background(), in, opts)
		if err != nil {
			t.Fatal(err)
		}
		runtime.KeepAlive(in) // the caller's input stays live, as it would in a program
		return int64(peak) - int64(base.HeapAlloc) - int64(4*len(res.Tensor.Data))
	}
	working(64) // the first call allocates the model's buffers
	small, large := working(64), working(256)
	t.Logf("live heap besides the input and output: %d bytes at 64×64, %d bytes at 256×256", small, large)
	// A float32 copy of the 256×256 input would be 768 KiB.
	const slack = 64 << 10
	if large > small+slack {
		t.Errorf("live heap besides the input and output: %d bytes at 256×256, want at most %d (64×64 used %d)", large, small+slack, small)
	}
}
