package gemm

// goKernel is the portable kernel. It packs B in panels of goNR columns,
// each panel stored k-major, so the inner loop reads goNR consecutive
// weights per step of k and keeps a goMR×goNR block of C in local arrays.
type goKernel struct{}

const (
	goMR = 4
	goNR = 8
)

func (goKernel) Name() string { return "go" }

func (goKernel) Pack(b []float32, k, n int) *Packed {
	checkPack(b, k, n)
	panels := (n + goNR - 1) / goNR
	data := make([]float32, panels*k*goNR)
	for pn := 0; pn < panels; pn++ {
		dst := data[pn*k*goNR : (pn+1)*k*goNR]
		for p := 0; p < k; p++ {
			for j := 0; j < goNR; j++ {
				if col := pn*goNR + j; col < n {
					dst[p*goNR+j] = b[p*n+col]
				}
			}
		}
	}
	return &Packed{K: k, N: n, Kernel: "go", Data: data}
}

// Unpack implements Kernel.
func (goKernel) Unpack(p *Packed) []float32 {
	checkUnpack(p, "go")
	b := make([]float32, p.K*p.N)
	for col := range p.N {
		panel := p.Data[col/goNR*p.K*goNR:]
		for i := range p.K {
			b[i*p.N+col] = panel[i*goNR+col%goNR]
		}
	}
	return b
}

func (goKernel) Mul(m int, a []float32, lda int, b *Packed, c []float32, ldc int, ep Epilogue) {
	check(m, a, lda, b, c, ldc, ep)
	k, n := b.K, b.N
	panels := (n + goNR - 1) / goNR
	for pn := 0; pn < panels; pn++ {
		panel := b.Data[pn*k*goNR : (pn+1)*k*goNR]
		j0 := pn * goNR
		cols := min(goNR, n-j0)
		i := 0
		for ; i+goMR <= m; i += goMR {
			var acc [goMR][goNR]float32
			a0 := a[i*lda : i*lda+k]
			a1 := a[(i+1)*lda : (i+1)*lda+k]
			a2 := a[(i+2)*lda : (i+2)*lda+k]
			a3 := a[(i+3)*lda : (i+3)*lda+k]
			for p := range a0 {
				w := (*[goNR]float32)(panel[p*goNR : p*goNR+goNR])
				x0, x1, x2, x3 := a0[p], a1[p], a2[p], a3[p]
				for j := range goNR {
					acc[0][j] += x0 * w[j]
					acc[1][j] += x1 * w[j]
					acc[2][j] += x2 * w[j]
					acc[3][j] += x3 * w[j]
				}
			}
			for r := range goMR {
				store(c[(i+r)*ldc+j0:], acc[r][:cols], j0, &ep)
			}
		}
		for ; i < m; i++ {
			var acc [goNR]float32
			row := a[i*lda : i*lda+k]
			for p, x := range row {
				w := (*[goNR]float32)(panel[p*goNR : p*goNR+goNR])
				for j := range goNR {
					acc[j] += x * w[j]
				}
			}
			store(c[i*ldc+j0:], acc[:cols], j0, &ep)
		}
	}
}

// store writes acc to dst after the epilogue; j0 is the column of acc[0].
func store(dst, acc []float32, j0 int, ep *Epilogue) {
	dst = dst[:len(acc)]
	for j, v := range acc {
		if ep.Accumulate {
			v += dst[j]
		}
		if ep.Bias != nil {
			v += ep.Bias[j0+j]
		}
		dst[j] = ep.apply(v)
	}
}
