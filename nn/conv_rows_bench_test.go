package nn

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/upscaler-go/upscaler/internal/gemm"
)

// BenchmarkConv2DPaths compares the row passes with im2col on 3×3 "same"
// convolutions over a 64×64 map on one goroutine, from the first layer's 3
// input channels to the 64 of the inner layers.
func BenchmarkConv2DPaths(b *testing.B) {
	const size = 64
	for _, cin := range []int{3, 6, 11, 16, 32, 64} {
		for _, outC := range []int{3, 32, 64} {
			r := rand.New(rand.NewPCG(1, 2))
			kernel := randomTensor(r, 1, 3, 3, cin, outC)
			rows, err := NewConv2D(kernel, randomSlice(r, outC), ConvConfig{Padding: Same})
			if err != nil {
				b.Fatal(err)
			}
			// Set up both paths, whichever useRows picks.
			rows.rows = packRows(gemm.Default(), kernel.Data, 3, 3, cin, outC)
			rows.weights = nil
			im2col := *rows
			im2col.rows = nil
			im2col.weights = gemm.Default().Pack(kernel.Data, 9*cin, outC)
			in, _ := randomView(r, size, size, cin, cin)
			out := emptyView(size, size, outC, outC)
			for _, path := range []struct {
				name string
				conv *Conv2D
			}{{"rows", rows}, {"im2col", &im2col}} {
				b.Run(fmt.Sprintf("3x3x%dx%d/%s", cin, outC, path.name), func(b *testing.B) {
					env := &Env{threads: 1}
					for b.Loop() {
						if err := path.conv.Forward(context.Background(), env, []View{in}, out); err != nil {
							b.Fatal(err)
						}
					}
					flops := 2 * float64(size*size*9*cin*outC)
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
