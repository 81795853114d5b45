package tfjs

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/upscaler-go/upscaler/tensor"
)

// MaxWeightBytes is the largest total size of a model's weights. The largest
// official UpscalerJS model, esrgan-thick x8, has about 30 MB.
const MaxWeightBytes = 2 << 30

// WeightError reports a weight that cannot be decoded.
type WeightError struct {
	Weight string // weight name, or "" for a problem with a whole group
	Files  []string
	Err    error
}

func (e *WeightError) Error() string {
	if e.Weight == "" {
		return fmt.Sprintf("weights in %v: %v", e.Files, e.Err)
	}
	return fmt.Sprintf("weight %q in %v: %v", e.Weight, e.Files, e.Err)
}

func (e *WeightError) Unwrap() error { return e.Err }

// storedSize returns the bytes per element a weight occupies in its shard.
func storedSize(w *WeightSpec) (int, error) {
	if q := w.Quantization; q != nil {
		switch q.Dtype {
		case "uint8":
			return 1, nil
		case "uint16", "float16":
			return 2, nil
		}
		return 0, fmt.Errorf("unknown quantization dtype %q (supported: uint8, uint16, float16)", q.Dtype)
	}
	switch w.Dtype {
	case "float32", "int32":
		return 4, nil
	}
	return 0, fmt.Errorf("unknown dtype %q (supported: float32, int32, or quantized uint8, uint16, float16)", w.Dtype)
}

// DecodeGroup decodes the weights of one manifest group from the
// concatenation of its shards. files names the shards for errors. The byte
// count must match the manifest exactly.
func DecodeGroup(g *WeightGroup, data []byte, files []string) (map[string]*tensor.Tensor, error) {
	return decodeShards(g, [][]byte{data}, files)
}

// decodeShards is DecodeGroup over the shards as they were read. A weight
// inside one shard is decoded from it in place, and only a weight that
// spans two or more shards is copied together first.
func decodeShards(g *WeightGroup, shards [][]byte, files []string) (map[string]*tensor.Tensor, error) {
	out := make(map[string]*tensor.Tensor, len(g.Weights))
	total := 0
	for _, s := range shards {
		total += len(s)
	}
	// span returns stored bytes [lo, hi) of the group.
	start := 0 // group offset of shards[0]
	span := func(lo, hi int) []byte {
		if hi == lo {
			return nil
		}
		for len(shards) > 0 && lo >= start+len(shards[0]) {
			start += len(shards[0])
			shards = shards[1:]
		}
		if hi <= start+len(shards[0]) {
			return shards[0][lo-start : hi-start]
		}
		b := make([]byte, 0, hi-lo)
		for i, off := 0, start; len(b) < hi-lo; i++ {
			s := shards[i]
			b = append(b, s[max(lo-off, 0):min(hi-off, len(s))]...)
			off += len(s)
		}
		return b
	}
	off := 0
	for i := range g.Weights {
		w := &g.Weights[i]
		werr := func(err error) error { return &WeightError{Weight: w.Name, Files: files, Err: err} }
		n, err := tensor.Elements(w.Shape)
		if err != nil {
			return nil, werr(err)
		}
		size, err := storedSize(w)
		if err != nil {
			return nil, werr(err)
		}
		if n > MaxWeightBytes/size {
			return nil, werr(fmt.Errorf("shape %v is larger than any model weight can be", w.Shape))
		}
		nbytes := n * size
		if off+nbytes > total {
			return nil, werr(fmt.Errorf("needs bytes %d to %d but the shards hold only %d bytes: a shard is truncated or missing", off, off+nbytes, total))
		}
		if _, dup := out[w.Name]; dup {
			return nil, werr(fmt.Errorf("listed twice in the manifest"))
		}
		t, err := decodeWeight(w, span(off, off+nbytes), n)
		if err != nil {
			return nil, werr(err)
		}
		t.Shape = append([]int(nil), w.Shape...)
		out[w.Name] = t
		off += nbytes
	}
	if off != total {
		return nil, &WeightError{Files: files, Err: fmt.Errorf("shards hold %d bytes but the manifest's weights take %d", total, off)}
	}
	return out, nil
}

func decodeWeight(w *WeightSpec, b []byte, n int) (*tensor.Tensor, error) {
	vals := make([]float32, n)
	q := w.Quantization
	if q == nil {
		switch w.Dtype {
		case "float32":
			for i := range vals {
				vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
		case "int32":
			for i := range vals {
				vals[i] = float32(int32(binary.LittleEndian.Uint32(b[4*i:])))
			}
		}
		return &tensor.Tensor{Data: vals}, nil
	}
	if q.Dtype == "float16" {
		for i := range vals {
			vals[i] = halfToFloat(binary.LittleEndian.Uint16(b[2*i:]))
		}
		return &tensor.Tensor{Data: vals}, nil
	}
	if q.Min == nil || q.Scale == nil {
		return nil, fmt.Errorf("%s quantization needs min and scale", q.Dtype)
	}
	lo, scale := *q.Min, *q.Scale
	if math.IsNaN(lo) || math.IsInf(lo, 0) || math.IsNaN(scale) || math.IsInf(scale, 0) {
		return nil, fmt.Errorf("quantization min %v and scale %v must be finite", lo, scale)
	}
	round := q.OriginalDtype == "int32" || (q.OriginalDtype == "" && w.Dtype == "int32")
	for i := range vals {
		var v uint16
		if q.Dtype == "uint8" {
			v = uint16(b[i])
		} else {
			v = binary.LittleEndian.Uint16(b[2*i:])
		}
		// Dequantize in float64 and round once to float32, as TensorFlow.js
		// does when it fills a Float32Array from JavaScript numbers.
		f := float64(v)*scale + lo
		if round {
			f = math.Round(f)
		}
		vals[i] = float32(f)
	}
	return &tensor.Tensor{Data: vals}, nil
}

// halfToFloat converts an IEEE 754 half-precision value to float32.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0:
		// Subnormal: normalise the mantissa.
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		mant &= 0x3ff
		return math.Float32frombits(sign | e<<23 | mant<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}
