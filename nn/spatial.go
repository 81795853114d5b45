package nn

import (
	"context"
	"fmt"
	"math"
)

// Interpolation selects how UpSampling2D fills new pixels.
type Interpolation uint8

const (
	// Nearest repeats each pixel.
	Nearest Interpolation = iota
	// Bilinear interpolates as TensorFlow.js's resizeBilinear does with
	// alignCorners and halfPixelCenters both false: output pixel y samples
	// input position y·in/out.
	Bilinear
)

// UpSampling2D enlarges the image by integer factors.
type UpSampling2D struct {
	SizeH, SizeW  int
	Interpolation Interpolation
}

func (*UpSampling2D) Class() string { return "UpSampling2D" }

func (u *UpSampling2D) Footprint() Footprint {
	r := 0.0
	if u.Interpolation == Bilinear {
		r = 1
	}
	return Footprint{Radius: r, Scale: float64(max(u.SizeH, u.SizeW))}
}

func (u *UpSampling2D) OutputShape(in []Shape) (Shape, error) {
	s, err := oneInput(in)
	if err != nil {
		return Shape{}, err
	}
	if u.SizeH <= 0 || u.SizeW <= 0 {
		return Shape{}, fmt.Errorf("size (%d, %d) must be positive", u.SizeH, u.SizeW)
	}
	return Shape{mulDim(s.H, u.SizeH), mulDim(s.W, u.SizeW), s.C}, nil
}

func mulDim(d, k int) int {
	if d == Dynamic {
		return Dynamic
	}
	return d * k
}

func addDim(d, k int) int {
	if d == Dynamic {
		return Dynamic
	}
	return d + k
}

func (u *UpSampling2D) Forward(ctx context.Context, env *Env, in []View, out View) error {
	src := in[0]
	if u.Interpolation == Nearest {
		return env.Parallel(out.H, 16, func(_, lo, hi int) error {
			for y := lo; y < hi; y++ {
				sy := y / u.SizeH
				for x := range out.W {
					copy(out.At(y, x), src.At(sy, x/u.SizeW))
				}
			}
			return nil
		})
	}
	scaleY := float32(src.H) / float32(out.H)
	scaleX := float32(src.W) / float32(out.W)
	return env.Parallel(out.H, 16, func(_, lo, hi int) error {
		for y := lo; y < hi; y++ {
			fy := float32(y) * scaleY
			y0 := int(fy)
			y1 := min(int(math.Ceil(float64(fy))), src.H-1)
			dy := fy - float32(y0)
			for x := range out.W {
				fx := float32(x) * scaleX
				x0 := int(fx)
				x1 := min(int(math.Ceil(float64(fx))), src.W-1)
				dx := fx - float32(x0)
				tl, tr := src.At(y0, x0), src.At(y0, x1)
				bl, br := src.At(y1, x0), src.At(y1, x1)
				d := out.At(y, x)
				for c := range d {
					top := tl[c] + (tr[c]-tl[c])*dx
					bottom := bl[c] + (br[c]-bl[c])*dx
					d[c] = top + (bottom-top)*dy
				}
			}
		}
		return nil
	})
}

// ZeroPadding2D adds rows and columns of zeros around the image.
type ZeroPadding2D struct {
	Top, Bottom, Left, Right int
}

func (*ZeroPadding2D) Class() string { return "ZeroPadding2D" }

func (z *ZeroPadding2D) OutputShape(in []Shape) (Shape, error) {
	s, err := oneInput(in)
	if err != nil {
		return Shape{}, err
	}
	if z.Top < 0 || z.Bottom < 0 || z.Left < 0 || z.Right < 0 {
		return Shape{}, fmt.Errorf("padding %+v must not be negative", *z)
	}
	return Shape{addDim(s.H, z.Top+z.Bottom), addDim(s.W, z.Left+z.Right), s.C}, nil
}

func (z *ZeroPadding2D) Forward(_ context.Context, _ *Env, in []View, out View) error {
	src := in[0]
	for y := range out.H {
		for x := range out.W {
			d := out.At(y, x)
			sy, sx := y-z.Top, x-z.Left
			if sy < 0 || sy >= src.H || sx < 0 || sx >= src.W {
				clear(d)
			} else {
				copy(d, src.At(sy, sx))
			}
		}
	}
	return nil
}

// Footprint returns no reach: padding moves pixels but mixes none.
func (z *ZeroPadding2D) Footprint() Footprint { return Footprint{Scale: 1} }

// Cropping2D removes rows and columns from the image's edges.
type Cropping2D struct {
	Top, Bottom, Left, Right int
}

func (*Cropping2D) Class() string { return "Cropping2D" }

func (c *Cropping2D) OutputShape(in []Shape) (Shape, error) {
	s, err := oneInput(in)
	if err != nil {
		return Shape{}, err
	}
	if c.Top < 0 || c.Bottom < 0 || c.Left < 0 || c.Right < 0 {
		return Shape{}, fmt.Errorf("cropping %+v must not be negative", *c)
	}
	out := Shape{addDim(s.H, -c.Top-c.Bottom), addDim(s.W, -c.Left-c.Right), s.C}
	if (out.H != Dynamic && out.H <= 0) || (out.W != Dynamic && out.W <= 0) {
		return Shape{}, fmt.Errorf("cropping %+v leaves nothing of an input of %v", *c, s)
	}
	return out, nil
}

func (c *Cropping2D) Forward(_ context.Context, _ *Env, in []View, out View) error {
	for y := range out.H {
		for x := range out.W {
			copy(out.At(y, x), in[0].At(y+c.Top, x+c.Left))
		}
	}
	return nil
}

// DepthToSpace moves channel blocks into space, as TensorFlow's
// depth_to_space in NHWC: output pixel (y·b+i, x·b+j) channel c is input
// pixel (y, x) channel (i·b+j)·C'+c, where C' = C/b². The RRDN models'
// PixelShuffle layers are a DepthToSpace.
type DepthToSpace struct {
	ClassName string
	Block     int
}

func (d *DepthToSpace) Class() string { return d.ClassName }

func (d *DepthToSpace) Footprint() Footprint { return Footprint{Scale: float64(d.Block)} }

func (d *DepthToSpace) OutputShape(in []Shape) (Shape, error) {
	s, err := oneInput(in)
	if err != nil {
		return Shape{}, err
	}
	b := d.Block
	if b < 2 {
		return Shape{}, fmt.Errorf("block size %d must be at least 2", b)
	}
	if s.C%(b*b) != 0 {
		return Shape{}, fmt.Errorf("input has %d channels, which block size %d does not divide into %d×%d groups", s.C, b, b, b)
	}
	return Shape{mulDim(s.H, b), mulDim(s.W, b), s.C / (b * b)}, nil
}

func (d *DepthToSpace) Forward(_ context.Context, env *Env, in []View, out View) error {
	src := in[0]
	b := d.Block
	return env.Parallel(src.H, 16, func(_, lo, hi int) error {
		for y := lo; y < hi; y++ {
			for x := range src.W {
				px := src.At(y, x)
				for i := range b {
					for j := range b {
						copy(out.At(y*b+i, x*b+j), px[(i*b+j)*out.C:])
					}
				}
			}
		}
		return nil
	})
}
