package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func naive(m, n, k int, a []float32, lda int, b []float32, c []float32, ldc int, ep Epilogue) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				s += a[i*lda+p] * b[p*n+j]
			}
			if ep.Bias != nil {
				s += ep.Bias[j]
			}
			c[i*ldc+j] = ep.apply(s)
		}
	}
}

func BenchmarkMul(b *testing.B) {
	for _, kern := range Kernels() {
		for _, s := range []struct{ m, k, n int }{{256, 576, 64}, {256, 576, 4}, {256, 27, 64}, {256, 1440, 32}} {
			b.Run(fmt.Sprintf("%s/m%d_k%d_n%d", kern.Name(), s.m, s.k, s.n), func(b *testing.B) {
				r := rand.New(rand.NewPCG(1, 2))
				a := make([]float32, s.m*s.k)
				w := make([]float32, s.k*s.n)
				for i := range a {
					a[i] = r.Float32()
				}
				for i := range w {
					w[i] = r.Float32()
				}
				p := kern.Pack(w, s.k, s.n)
				c := make([]float32, s.m*s.n)
				b.ResetTimer()
				for range b.N {
					kern.Mul(s.m, a, s.k, p, c, s.n, Epilogue{})
				}
				b.ReportMetric(float64(2*s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
