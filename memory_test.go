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
		var outBytes int64
		peak := livePeak(func(progress func(upscaler.Progress)) {
			res, err := u.Upscale(context.Background(), in, &upscaler.Options{PatchSize: 32, Padding: 4, Progress: progress})
			if err != nil {
				t.Fatal(err)
			}
			outBytes = int64(4 * len(res.Tensor.Data))
		})
		runtime.KeepAlive(in) // the caller's input stays live, as it would in a program
		return peak - outBytes
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
