package tensor

import (
	"errors"
	"math"
	"testing"
)

func TestFromDataShapeMismatch(t *testing.T) {
	if _, err := FromData(make([]float32, 11), 2, 2, 3); !errors.Is(err, ErrShape) {
		t.Errorf("FromData(11 values, [2 2 3]) error = %v, want ErrShape", err)
	}
	tt, err := FromData(make([]float32, 12), 2, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if h, w, c, err := tt.HWC(); h != 2 || w != 2 || c != 3 || err != nil {
		t.Errorf("HWC() = %d, %d, %d, %v, want 2, 2, 3, nil", h, w, c, err)
	}
}

func TestElements(t *testing.T) {
	tests := []struct {
		shape   []int
		want    int
		wantErr bool
	}{
		{[]int{}, 1, false},
		{[]int{3, 0, 5}, 0, false},
		{[]int{2, 3, 4}, 24, false},
		{[]int{-1, 3}, 0, true},
		{[]int{math.MaxInt / 2, 4}, 0, true},
		{[]int{1 << 20, 1 << 20, 1 << 20}, 0, true},
	}
	for _, tt := range tests {
		got, err := Elements(tt.shape)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Elements(%v) = %d, %v; want %d, error %v", tt.shape, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestHWCRejectsOtherShapes(t *testing.T) {
	for _, shape := range [][]int{{4, 4}, {2, 4, 4, 3}, {1, 1, 4, 4, 3}} {
		n, _ := Elements(shape)
		tt := &Tensor{Shape: shape, Data: make([]float32, n)}
		if _, _, _, err := tt.HWC(); !errors.Is(err, ErrShape) {
			t.Errorf("HWC() of %v error = %v, want ErrShape", shape, err)
		}
	}
}

func TestFromUint8AndCheckFinite(t *testing.T) {
	tt, err := FromUint8([]uint8{0, 128, 255}, 1, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if tt.Data[1] != 128 || tt.Data[2] != 255 {
		t.Errorf("FromUint8 data = %v, want [0 128 255]", tt.Data)
	}
	if err := tt.CheckFinite(); err != nil {
		t.Errorf("CheckFinite() = %v, want nil", err)
	}
	tt.Data[1] = float32(math.NaN())
	if err := tt.CheckFinite(); err == nil {
		t.Errorf("CheckFinite() with a NaN = nil, want an error")
	}
	c := tt.Clone()
	c.Data[0] = 7
	if tt.Data[0] == 7 {
		t.Errorf("Clone shares data with the original")
	}
}
