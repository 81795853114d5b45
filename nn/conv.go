package nn

import (
	"context"
	"errors"
	"fmt"

	"github.com/upscaler-go/upscaler/internal/gemm"
	"github.com/upscaler-go/upscaler/tensor"
)

// Padding selects how a convolution treats the image border.
type Padding uint8

const (
	// Valid uses only windows that lie wholly inside the input.
	Valid Padding = iota
	// Same pads with zeros so the output has ceil(input/stride) pixels,
	// with any odd padding pixel at the bottom and right, as TensorFlow does.
	Same
)

// ConvConfig holds the geometry shared by the convolution layers. Zero
// strides and dilations mean 1.
type ConvConfig struct {
	StrideH, StrideW     int
	DilationH, DilationW int
	Padding              Padding
	Activation           Func // zero value means linear
}

func (c *ConvConfig) normalize() {
	c.StrideH, c.StrideW = max(c.StrideH, 1), max(c.StrideW, 1)
	c.DilationH, c.DilationW = max(c.DilationH, 1), max(c.DilationW, 1)
	if c.Activation.f == nil {
		c.Activation = activations["linear"]
	}
}

// outSize returns the output length along one axis and the zero padding
// before the first input pixel.
func outSize(in, k, stride, dilation int, p Padding) (out, before int) {
	if in == Dynamic {
		return Dynamic, 0
	}
	span := (k-1)*dilation + 1
	if p == Valid {
		if in < span {
			return 0, 0
		}
		return (in-span)/stride + 1, 0
	}
	out = (in + stride - 1) / stride
	total := max((out-1)*stride+span-in, 0)
	return out, total / 2
}

// Conv2D is a 2-D convolution over NHWC input with an HWIO kernel, computed
// as a matrix product: each output pixel's receptive field, flattened in
// kernel order, is one row of A (im2col), and the kernel reshaped to
// (kh·kw·in)×out is B. A 1×1 convolution with stride 1 reads A in place,
// and other convolutions with stride 1 and dilation 1 sum one product per
// kernel row over a zero-padded copy of the input instead of building A
// (see conv_rows.go).
type Conv2D struct {
	cfg         ConvConfig
	kh, kw      int
	inC, outC   int
	weights     *gemm.Packed   // (kh·kw·in)×out, for im2col; nil with rows
	rows        []*gemm.Packed // one (kw·in)×out matrix per kernel row, for the row passes
	bias        []float32
	epilogue    gemm.Epilogue
	postprocess bool // the activation is not fusable and runs after the product
	// upH and upW, above 1, fold a nearest-neighbour UpSampling2D into the
	// input: the convolution reads each input pixel as a block of upH×upW
	// pixels, so the enlarged feature map is never stored. With "same"
	// padding, phases holds the kernel summed by phase (conv_phases.go).
	upH, upW int
	phases   *phaseConv
}

// NewConv2D returns a convolution with kernel of shape [kh, kw, in, out] and
// an optional bias of length out. The kernel is packed for the GEMM kernel
// now; the caller may reuse its tensors afterwards.
func NewConv2D(kernel *tensor.Tensor, bias []float32, cfg ConvConfig) (*Conv2D, error) {
	if len(kernel.Shape) != 4 {
		return nil, fmt.Errorf("kernel has shape %v, want [height, width, in, out]", kernel.Shape)
	}
	for _, d := range kernel.Shape {
		if d <= 0 {
			return nil, fmt.Errorf("kernel has shape %v with an empty dimension", kernel.Shape)
		}
	}
	kh, kw, inC, outC := kernel.Shape[0], kernel.Shape[1], kernel.Shape[2], kernel.Shape[3]
	if bias != nil && len(bias) != outC {
		return nil, fmt.Errorf("bias has %d values but the kernel has %d filters", len(bias), outC)
	}
	cfg.normalize()
	c := &Conv2D{cfg: cfg, kh: kh, kw: kw, inC: inC, outC: outC, bias: bias}
	if useRows(cfg, kh, kw) {
		c.rows = packRows(gemm.Default(), kernel.Data, kh, kw, inC, outC)
	} else {
		c.weights = gemm.Default().Pack(kernel.Data, kh*kw*inC, outC)
	}
	c.setActivation(cfg.Activation)
	return c, nil
}

func (c *Conv2D) setActivation(f Func) {
	c.cfg.Activation = f
	c.epilogue = gemm.Epilogue{Bias: c.bias}
	c.postprocess = !f.fuse
	if f.fuse {
		c.epilogue.Act, c.epilogue.Alpha = f.gemm, f.alpha
	}
}

// withActivation returns a copy of c that applies a's function, when c has
// none of its own.
func (c *Conv2D) withActivation(a fusableActivation) (*Conv2D, bool) {
	f, ok := a.fusable()
	if !ok || !c.cfg.Activation.linear() {
		return nil, false
	}
	fused := *c
	fused.setActivation(f)
	return &fused, true
}

// withUpsample returns a copy of c that reads its input enlarged by u,
// when u repeats pixels and c takes the row passes, which build their
// padded input rows themselves.
func (c *Conv2D) withUpsample(u *UpSampling2D) (*Conv2D, bool) {
	if u.Interpolation != Nearest || c.rows == nil || c.upH > 1 || c.upW > 1 {
		return nil, false
	}
	fused := *c
	fused.upH, fused.upW = u.SizeH, u.SizeW
	if c.cfg.Padding == Same {
		p, err := newPhaseConv(c, u.SizeH, u.SizeW)
		if err != nil {
			return nil, false
		}
		fused.phases = p
	}
	return &fused, true
}

// upsampled returns the size of the input the convolution reads for an h×w
// input.
func (c *Conv2D) upsampled(h, w int) (int, int) {
	if c.upH > 1 || c.upW > 1 {
		return mulDim(h, c.upH), mulDim(w, c.upW)
	}
	return h, w
}

func (*Conv2D) Class() string { return "Conv2D" }

// Footprint returns the kernel's reach and the stride's downscaling.
func (c *Conv2D) Footprint() Footprint {
	r := max((c.kh-1)*c.cfg.DilationH, (c.kw-1)*c.cfg.DilationW)
	return Footprint{Radius: float64((r + 1) / 2), Scale: 1 / float64(max(c.cfg.StrideH, c.cfg.StrideW))}
}

func (c *Conv2D) OutputShape(in []Shape) (Shape, error) {
	s, err := oneInput(in)
	if err != nil {
		return Shape{}, err
	}
	if s.C != c.inC {
		return Shape{}, fmt.Errorf("kernel takes %d input channels but the input has %d", c.inC, s.C)
	}
	inH, inW := c.upsampled(s.H, s.W)
	h, _ := outSize(inH, c.kh, c.cfg.StrideH, c.cfg.DilationH, c.cfg.Padding)
	w, _ := outSize(inW, c.kw, c.cfg.StrideW, c.cfg.DilationW, c.cfg.Padding)
	return Shape{h, w, c.outC}, nil
}

// rowsPerChunk returns how many output pixels one GEMM call covers, so that
// a chunk of A stays near 128 KiB and fits the L2 cache beside B's panel.
func rowsPerChunk(k int) int { return min(max(32768/k, 16), 256) }

func (c *Conv2D) Forward(ctx context.Context, env *Env, in []View, out View) error {
	src := in[0]
	if c.phases != nil && out.Stride == out.C {
		return c.forwardPhases(ctx, env, src, out)
	}
	k := c.kh * c.kw * c.inC
	inH, inW := c.upsampled(src.H, src.W)
	_, padT := outSize(inH, c.kh, c.cfg.StrideH, c.cfg.DilationH, c.cfg.Padding)
	_, padL := outSize(inW, c.kw, c.cfg.StrideW, c.cfg.DilationW, c.cfg.Padding)
	if c.rows != nil {
		return c.forwardRows(ctx, env, src, out, padT, padL)
	}
	kern := gemm.Default()
	pointwise := c.kh == 1 && c.kw == 1 && c.cfg.StrideH == 1 && c.cfg.StrideW == 1
	chunk := rowsPerChunk(k)
	return env.Parallel(out.H*out.W, chunk, func(worker, lo, hi int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		m := hi - lo
		dst := out.Data[lo*out.Stride:]
		if pointwise {
			// A 1×1 convolution's im2col matrix is the input itself.
			kern.Mul(m, src.Data[lo*src.Stride:], src.Stride, c.weights, dst, out.Stride, c.epilogue)
		} else {
			a := env.Scratch(worker, m*k)
			c.im2col(a, src, lo, hi, out.W, padT, padL)
			kern.Mul(m, a, k, c.weights, dst, out.Stride, c.epilogue)
		}
		if c.postprocess {
			c.activate(out, lo, hi)
		}
		return nil
	})
}

// activate applies the activation that the GEMM could not fuse to output
// pixels [lo, hi).
func (c *Conv2D) activate(out View, lo, hi int) {
	f := c.cfg.Activation.f
	for p := lo; p < hi; p++ {
		px := out.Pixel(p)
		for j, v := range px {
			px[j] = f(v)
		}
	}
}

// im2col writes one row of A per output pixel in [lo, hi): the input pixels
// under the kernel in (ky, kx, channel) order, zeros outside the image.
func (c *Conv2D) im2col(a []float32, src View, lo, hi, outW, padT, padL int) {
	cin := c.inC
	row := 0
	for p := lo; p < hi; p++ {
		oy, ox := p/outW, p%outW
		dst := a[row*c.kh*c.kw*cin:]
		i := 0
		for ky := range c.kh {
			iy := oy*c.cfg.StrideH - padT + ky*c.cfg.DilationH
			for kx := range c.kw {
				ix := ox*c.cfg.StrideW - padL + kx*c.cfg.DilationW
				seg := dst[i : i+cin]
				if iy < 0 || iy >= src.H || ix < 0 || ix >= src.W {
					clear(seg)
				} else {
					copy(seg, src.At(iy, ix))
				}
				i += cin
			}
		}
		row++
	}
}

// DepthwiseConv2D convolves each input channel with its own mult filters;
// output channel c·mult+m comes from input channel c and filter m.
type DepthwiseConv2D struct {
	cfg       ConvConfig
	kh, kw    int
	inC, mult int
	kernel    []float32 // [kh, kw, in, mult]
	bias      []float32
}

// NewDepthwiseConv2D returns a depthwise convolution with kernel of shape
// [kh, kw, in, mult] and an optional bias of length in·mult.
func NewDepthwiseConv2D(kernel *tensor.Tensor, bias []float32, cfg ConvConfig) (*DepthwiseConv2D, error) {
	if len(kernel.Shape) != 4 || kernel.Len() == 0 {
		return nil, fmt.Errorf("depthwise kernel has shape %v, want [height, width, in, multiplier]", kernel.Shape)
	}
	kh, kw, inC, mult := kernel.Shape[0], kernel.Shape[1], kernel.Shape[2], kernel.Shape[3]
	if bias != nil && len(bias) != inC*mult {
		return nil, fmt.Errorf("bias has %d values but the layer has %d output channels", len(bias), inC*mult)
	}
	cfg.normalize()
	return &DepthwiseConv2D{cfg: cfg, kh: kh, kw: kw, inC: inC, mult: mult, kernel: kernel.Data, bias: bias}, nil
}

func (*DepthwiseConv2D) Class() string { return "DepthwiseConv2D" }

func (d *DepthwiseConv2D) Footprint() Footprint {
	r := max((d.kh-1)*d.cfg.DilationH, (d.kw-1)*d.cfg.DilationW)
	return Footprint{Radius: float64((r + 1) / 2), Scale: 1 / float64(max(d.cfg.StrideH, d.cfg.StrideW))}
}

func (d *DepthwiseConv2D) OutputShape(in []Shape) (Shape, error) {
	s, err := oneInput(in)
	if err != nil {
		return Shape{}, err
	}
	if s.C != d.inC {
		return Shape{}, fmt.Errorf("kernel takes %d input channels but the input has %d", d.inC, s.C)
	}
	h, _ := outSize(s.H, d.kh, d.cfg.StrideH, d.cfg.DilationH, d.cfg.Padding)
	w, _ := outSize(s.W, d.kw, d.cfg.StrideW, d.cfg.DilationW, d.cfg.Padding)
	return Shape{h, w, d.inC * d.mult}, nil
}

func (d *DepthwiseConv2D) Forward(ctx context.Context, env *Env, in []View, out View) error {
	src := in[0]
	_, padT := outSize(src.H, d.kh, d.cfg.StrideH, d.cfg.DilationH, d.cfg.Padding)
	_, padL := outSize(src.W, d.kw, d.cfg.StrideW, d.cfg.DilationW, d.cfg.Padding)
	f := d.cfg.Activation.f
	return env.Parallel(out.H, 8, func(_, lo, hi int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		for oy := lo; oy < hi; oy++ {
			for ox := range out.W {
				acc := out.At(oy, ox)
				if d.bias != nil {
					copy(acc, d.bias)
				} else {
					clear(acc)
				}
				for ky := range d.kh {
					iy := oy*d.cfg.StrideH - padT + ky*d.cfg.DilationH
					if iy < 0 || iy >= src.H {
						continue
					}
					for kx := range d.kw {
						ix := ox*d.cfg.StrideW - padL + kx*d.cfg.DilationW
						if ix < 0 || ix >= src.W {
							continue
						}
						w := d.kernel[(ky*d.kw+kx)*d.inC*d.mult:]
						for c, v := range src.At(iy, ix) {
							for m := range d.mult {
								acc[c*d.mult+m] += v * w[c*d.mult+m]
							}
						}
					}
				}
				for j, v := range acc {
					acc[j] = f(v)
				}
			}
		}
		return nil
	})
}

// SeparableConv2D is a depthwise convolution without bias followed by a 1×1
// convolution with the bias and activation.
type SeparableConv2D struct {
	depthwise *DepthwiseConv2D
	pointwise *Conv2D
}

// NewSeparableConv2D returns a separable convolution from its depthwise
// kernel [kh, kw, in, mult], pointwise kernel [1, 1, in·mult, out] and an
// optional bias of length out.
func NewSeparableConv2D(depthwise, pointwise *tensor.Tensor, bias []float32, cfg ConvConfig) (*SeparableConv2D, error) {
	act := cfg.Activation
	cfg.Activation = Func{}
	dw, err := NewDepthwiseConv2D(depthwise, nil, cfg)
	if err != nil {
		return nil, err
	}
	if len(pointwise.Shape) != 4 || pointwise.Shape[0] != 1 || pointwise.Shape[1] != 1 {
		return nil, fmt.Errorf("pointwise kernel has shape %v, want [1, 1, in, out]", pointwise.Shape)
	}
	if pointwise.Shape[2] != dw.inC*dw.mult {
		return nil, fmt.Errorf("pointwise kernel takes %d channels but the depthwise step gives %d", pointwise.Shape[2], dw.inC*dw.mult)
	}
	pw, err := NewConv2D(pointwise, bias, ConvConfig{Activation: act})
	if err != nil {
		return nil, err
	}
	return &SeparableConv2D{depthwise: dw, pointwise: pw}, nil
}

func (*SeparableConv2D) Class() string { return "SeparableConv2D" }

func (s *SeparableConv2D) Footprint() Footprint { return s.depthwise.Footprint() }

func (s *SeparableConv2D) OutputShape(in []Shape) (Shape, error) {
	mid, err := s.depthwise.OutputShape(in)
	if err != nil {
		return Shape{}, err
	}
	return s.pointwise.OutputShape([]Shape{mid})
}

func (s *SeparableConv2D) Forward(ctx context.Context, env *Env, in []View, out View) error {
	mid, err := s.depthwise.OutputShape([]Shape{in[0].Shape()})
	if err != nil {
		return err
	}
	if mid.H != out.H || mid.W != out.W {
		return errors.New("depthwise and pointwise sizes disagree")
	}
	// The intermediate map lives in the scratch slot after the workers'.
	buf := env.Scratch(env.Threads(), mid.Size())
	v := View{Data: buf, H: mid.H, W: mid.W, C: mid.C, Stride: mid.C}
	if err := s.depthwise.Forward(ctx, env, in, v); err != nil {
		return err
	}
	return s.pointwise.Forward(ctx, env, []View{v}, out)
}
