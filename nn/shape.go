package nn

import "fmt"

// Dynamic marks a height or width that is known only when the model runs.
const Dynamic = -1

// Shape is the shape of one feature map: height, width and channels. H and W
// may be Dynamic.
type Shape struct{ H, W, C int }

func (s Shape) String() string {
	dim := func(d int) string {
		if d == Dynamic {
			return "?"
		}
		return fmt.Sprint(d)
	}
	return fmt.Sprintf("[%s, %s, %d]", dim(s.H), dim(s.W), s.C)
}

// Pixels returns H×W. It is meaningful only for concrete shapes.
func (s Shape) Pixels() int { return s.H * s.W }

// Size returns the element count H×W×C of a concrete shape.
func (s Shape) Size() int { return s.H * s.W * s.C }

// View is a feature map in memory. The channels of pixel i (row-major, i =
// y×W+x) are Data[i×Stride : i×Stride+C].
type View struct {
	Data    []float32
	H, W, C int
	Stride  int
}

// Shape returns the view's shape.
func (v View) Shape() Shape { return Shape{v.H, v.W, v.C} }

// Pixel returns the channels of pixel i.
func (v View) Pixel(i int) []float32 {
	return v.Data[i*v.Stride : i*v.Stride+v.C : i*v.Stride+v.C]
}

// At returns the channels of the pixel at row y, column x.
func (v View) At(y, x int) []float32 { return v.Pixel(y*v.W + x) }

// Contiguous reports whether the pixels follow each other with no gap.
func (v View) Contiguous() bool { return v.Stride == v.C }
