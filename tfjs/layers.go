package tfjs

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/upscaler-go/upscaler/nn"
	"github.com/upscaler-go/upscaler/tensor"
)

// LayerConfig is the input of a LayerFunc: one Keras layer's name, class,
// config and weights.
type LayerConfig struct {
	Name      string
	ClassName string
	// Config is the layer's Keras config object.
	Config json.RawMessage
	// Weights maps each weight's name inside the layer ("kernel", "bias",
	// ...) to its value.
	Weights map[string]*tensor.Tensor
}

// Decode unmarshals the layer's config into v.
func (c *LayerConfig) Decode(v any) error {
	if err := json.Unmarshal(c.Config, v); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// Weight returns the named weight, or an error when the manifest has none.
func (c *LayerConfig) Weight(name string) (*tensor.Tensor, error) {
	w, ok := c.Weights[name]
	if !ok {
		have := slices.Sorted(func(yield func(string) bool) {
			for k := range c.Weights {
				if !yield(k) {
					return
				}
			}
		})
		return nil, fmt.Errorf("weight %q is missing from the weights manifest (the layer has %v)", c.Name+"/"+name, have)
	}
	return w, nil
}

// LayerFunc builds an nn layer from a Keras layer's config and weights.
type LayerFunc func(cfg *LayerConfig) (nn.Layer, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]LayerFunc{}
)

// RegisterLayer makes className loadable by every later Load, replacing any
// earlier function for it. It is the counterpart of registering a custom
// layer class in TensorFlow.js and is safe for concurrent use.
func RegisterLayer(className string, f LayerFunc) {
	registryMu.Lock()
	defer registryMu.Unlock()
	registry[className] = f
}

var pixelShuffleClass = regexp.MustCompile(`^PixelShuffle([0-9]+)x$`)

// lookupLayer returns the function for className, checking extra first.
func lookupLayer(className string, extra map[string]LayerFunc) (LayerFunc, error) {
	if f, ok := extra[className]; ok {
		return f, nil
	}
	registryMu.RLock()
	f, ok := registry[className]
	registryMu.RUnlock()
	if ok {
		return f, nil
	}
	if m := pixelShuffleClass.FindStringSubmatch(className); m != nil {
		block, err := strconv.Atoi(m[1])
		if err == nil && block >= 2 && block <= 16 {
			return func(*LayerConfig) (nn.Layer, error) {
				return &nn.DepthToSpace{ClassName: className, Block: block}, nil
			}, nil
		}
	}
	if className == "Lambda" {
		return nil, errors.New("Lambda layers contain Python code that cannot be loaded; replace the Lambda with a registered custom layer (RegisterLayer)")
	}
	return nil, fmt.Errorf("unknown layer class %q; register a LayerFunc for it with RegisterLayer", className)
}

func init() {
	RegisterLayer("Conv2D", newConv2D)
	RegisterLayer("Convolution2D", newConv2D)
	RegisterLayer("DepthwiseConv2D", newDepthwiseConv2D)
	RegisterLayer("SeparableConv2D", newSeparableConv2D)
	RegisterLayer("SeparableConvolution2D", newSeparableConv2D)
	RegisterLayer("Activation", newActivation)
	RegisterLayer("ReLU", newReLU)
	RegisterLayer("LeakyReLU", newLeakyReLU)
	RegisterLayer("PReLU", newPReLU)
	RegisterLayer("ELU", newELU)
	RegisterLayer("Concatenate", newConcatenate)
	for op, name := range map[nn.MergeOp]string{nn.Add: "Add", nn.Subtract: "Subtract", nn.Multiply: "Multiply",
		nn.Average: "Average", nn.Maximum: "Maximum", nn.Minimum: "Minimum"} {
		RegisterLayer(name, func(*LayerConfig) (nn.Layer, error) { return &nn.Merge{Op: op}, nil })
	}
	RegisterLayer("UpSampling2D", newUpSampling2D)
	RegisterLayer("ZeroPadding2D", newZeroPadding2D)
	RegisterLayer("Cropping2D", newCropping2D)
	RegisterLayer("MultiplyBeta", newMultiplyBeta)
}

// pair is a Keras argument that is either one integer or a pair.
type pair [2]int

func (p *pair) UnmarshalJSON(b []byte) error {
	var n int
	if json.Unmarshal(b, &n) == nil {
		*p = pair{n, n}
		return nil
	}
	var l []int
	if err := json.Unmarshal(b, &l); err != nil || len(l) != 2 {
		return fmt.Errorf("%s is not an integer or a pair of integers", b)
	}
	*p = pair{l[0], l[1]}
	return nil
}

// edges is a Keras padding or cropping argument: n, [a, b] (a rows at top
// and bottom, b columns at left and right) or [[top, bottom], [left, right]].
type edges struct{ top, bottom, left, right int }

func (e *edges) UnmarshalJSON(b []byte) error {
	var n int
	if json.Unmarshal(b, &n) == nil {
		*e = edges{n, n, n, n}
		return nil
	}
	var sym []int
	if json.Unmarshal(b, &sym) == nil && len(sym) == 2 {
		*e = edges{sym[0], sym[0], sym[1], sym[1]}
		return nil
	}
	var full [][]int
	if err := json.Unmarshal(b, &full); err != nil || len(full) != 2 || len(full[0]) != 2 || len(full[1]) != 2 {
		return fmt.Errorf("%s is not n, [rows, columns] or [[top, bottom], [left, right]]", b)
	}
	*e = edges{full[0][0], full[0][1], full[1][0], full[1][1]}
	return nil
}

// convFields are the config fields the convolution layers share.
type convFields struct {
	KernelSize   pair    `json:"kernel_size"`
	Strides      *pair   `json:"strides"`
	Padding      string  `json:"padding"`
	DataFormat   *string `json:"data_format"`
	DilationRate *pair   `json:"dilation_rate"`
	Groups       *int    `json:"groups"`
	Activation   *string `json:"activation"`
	UseBias      *bool   `json:"use_bias"`
}

func (f *convFields) config() (nn.ConvConfig, error) {
	var c nn.ConvConfig
	if f.DataFormat != nil && *f.DataFormat != "channels_last" {
		return c, fmt.Errorf("%w data_format %q; convert the model with channels_last", nn.ErrUnsupported, *f.DataFormat)
	}
	if f.Groups != nil && *f.Groups != 1 {
		return c, fmt.Errorf("%w groups %d; only groups 1 is supported", nn.ErrUnsupported, *f.Groups)
	}
	switch strings.ToLower(f.Padding) {
	case "same":
		c.Padding = nn.Same
	case "valid", "":
		c.Padding = nn.Valid
	default:
		return c, fmt.Errorf("%w padding %q (supported: same, valid)", nn.ErrUnsupported, f.Padding)
	}
	if f.Strides != nil {
		c.StrideH, c.StrideW = f.Strides[0], f.Strides[1]
	}
	if f.DilationRate != nil {
		c.DilationH, c.DilationW = f.DilationRate[0], f.DilationRate[1]
	}
	if c.StrideH < 0 || c.StrideW < 0 || c.DilationH < 0 || c.DilationW < 0 {
		return c, fmt.Errorf("strides %d×%d and dilation %d×%d must be positive", c.StrideH, c.StrideW, c.DilationH, c.DilationW)
	}
	if (c.StrideH > 1 || c.StrideW > 1) && (c.DilationH > 1 || c.DilationW > 1) {
		return c, fmt.Errorf("%w strides and dilation both above 1", nn.ErrUnsupported)
	}
	act := ""
	if f.Activation != nil {
		act = *f.Activation
	}
	var err error
	c.Activation, err = nn.LookupFunc(act)
	return c, err
}

func (f *convFields) useBias() bool { return f.UseBias == nil || *f.UseBias }

func biasOf(cfg *LayerConfig, use bool) ([]float32, error) {
	if !use {
		return nil, nil
	}
	b, err := cfg.Weight("bias")
	if err != nil {
		return nil, err
	}
	return b.Data, nil
}

func newConv2D(cfg *LayerConfig) (nn.Layer, error) {
	var f struct {
		convFields
		Filters int `json:"filters"`
	}
	if err := cfg.Decode(&f); err != nil {
		return nil, err
	}
	cc, err := f.config()
	if err != nil {
		return nil, err
	}
	kernel, err := cfg.Weight("kernel")
	if err != nil {
		return nil, err
	}
	if len(kernel.Shape) != 4 || kernel.Shape[0] != f.KernelSize[0] || kernel.Shape[1] != f.KernelSize[1] || (f.Filters != 0 && kernel.Shape[3] != f.Filters) {
		return nil, fmt.Errorf("kernel has shape %v but the config sets kernel_size %v and %d filters", kernel.Shape, f.KernelSize, f.Filters)
	}
	bias, err := biasOf(cfg, f.useBias())
	if err != nil {
		return nil, err
	}
	return nn.NewConv2D(kernel, bias, cc)
}

func newDepthwiseConv2D(cfg *LayerConfig) (nn.Layer, error) {
	var f convFields
	if err := cfg.Decode(&f); err != nil {
		return nil, err
	}
	cc, err := f.config()
	if err != nil {
		return nil, err
	}
	kernel, err := cfg.Weight("depthwise_kernel")
	if err != nil {
		return nil, err
	}
	bias, err := biasOf(cfg, f.useBias())
	if err != nil {
		return nil, err
	}
	return nn.NewDepthwiseConv2D(kernel, bias, cc)
}

func newSeparableConv2D(cfg *LayerConfig) (nn.Layer, error) {
	var f convFields
	if err := cfg.Decode(&f); err != nil {
		return nil, err
	}
	cc, err := f.config()
	if err != nil {
		return nil, err
	}
	dw, err := cfg.Weight("depthwise_kernel")
	if err != nil {
		return nil, err
	}
	pw, err := cfg.Weight("pointwise_kernel")
	if err != nil {
		return nil, err
	}
	bias, err := biasOf(cfg, f.useBias())
	if err != nil {
		return nil, err
	}
	return nn.NewSeparableConv2D(dw, pw, bias, cc)
}

func newActivation(cfg *LayerConfig) (nn.Layer, error) {
	var f struct {
		Activation string `json:"activation"`
	}
	if err := cfg.Decode(&f); err != nil {
		return nil, err
	}
	fn, err := nn.LookupFunc(f.Activation)
	if err != nil {
		return nil, err
	}
	return &nn.Activation{ClassName: "Activation", Func: fn}, nil
}

func newReLU(cfg *LayerConfig) (nn.Layer, error) {
	var f struct {
		MaxValue      *float32 `json:"max_value"`
		NegativeSlope float32  `json:"negative_slope"`
		Threshold     float32  `json:"threshold"`
	}
	if err := cfg.Decode(&f); err != nil {
		return nil, err
	}
	maxValue := float32(-1)
	if f.MaxValue != nil {
		if *f.MaxValue < 0 {
			return nil, fmt.Errorf("max_value %v must not be negative", *f.MaxValue)
		}
		maxValue = *f.MaxValue
	}
	return &nn.Activation{ClassName: "ReLU", Func: nn.ReLUFunc(maxValue, f.NegativeSlope, f.Threshold)}, nil
}

func newLeakyReLU(cfg *LayerConfig) (nn.Layer, error) {
	// Keras 2 calls the slope alpha, Keras 3 negative_slope; both default
	// to 0.3.
	var f struct {
		Alpha         *float32 `json:"alpha"`
		NegativeSlope *float32 `json:"negative_slope"`
	}
	if err := cfg.Decode(&f); err != nil {
		return nil, err
	}
	alpha := float32(0.3)
	if f.Alpha != nil {
		alpha = *f.Alpha
	} else if f.NegativeSlope != nil {
		alpha = *f.NegativeSlope
	}
	return &nn.Activation{ClassName: "LeakyReLU", Func: nn.LeakyReLUFunc(alpha)}, nil
}

func newELU(cfg *LayerConfig) (nn.Layer, error) {
	f := struct {
		Alpha float32 `json:"alpha"`
	}{Alpha: 1}
	if err := cfg.Decode(&f); err != nil {
		return nil, err
	}
	return &nn.Activation{ClassName: "ELU", Func: nn.ELUFunc(f.Alpha)}, nil
}

func newPReLU(cfg *LayerConfig) (nn.Layer, error) {
	alpha, err := cfg.Weight("alpha")
	if err != nil {
		return nil, err
	}
	// A model that runs on any image size shares alpha over height and
	// width, so every axis but the last has size 1.
	for _, d := range alpha.Shape[:max(len(alpha.Shape)-1, 0)] {
		if d != 1 {
			return nil, fmt.Errorf("%w alpha of shape %v: only one slope per channel (shared_axes [1, 2]) is supported", nn.ErrUnsupported, alpha.Shape)
		}
	}
	return &nn.PReLU{Alpha: alpha.Data}, nil
}

func newConcatenate(cfg *LayerConfig) (nn.Layer, error) {
	f := struct {
		Axis int `json:"axis"`
	}{Axis: -1}
	if err := cfg.Decode(&f); err != nil {
		return nil, err
	}
	if f.Axis != -1 && f.Axis != 3 {
		return nil, fmt.Errorf("%w axis %d; only the channel axis (-1 or 3) is supported", nn.ErrUnsupported, f.Axis)
	}
	return &nn.Concatenate{}, nil
}

func newUpSampling2D(cfg *LayerConfig) (nn.Layer, error) {
	f := struct {
		Size          pair    `json:"size"`
		Interpolation string  `json:"interpolation"`
		DataFormat    *string `json:"data_format"`
	}{Size: pair{2, 2}}
	if err := cfg.Decode(&f); err != nil {
		return nil, err
	}
	if f.DataFormat != nil && *f.DataFormat != "channels_last" {
		return nil, fmt.Errorf("%w data_format %q", nn.ErrUnsupported, *f.DataFormat)
	}
	u := &nn.UpSampling2D{SizeH: f.Size[0], SizeW: f.Size[1]}
	switch f.Interpolation {
	case "", "nearest":
	case "bilinear":
		u.Interpolation = nn.Bilinear
	default:
		return nil, fmt.Errorf("%w interpolation %q (supported: nearest, bilinear)", nn.ErrUnsupported, f.Interpolation)
	}
	return u, nil
}

func newZeroPadding2D(cfg *LayerConfig) (nn.Layer, error) {
	f := struct {
		Padding edges `json:"padding"`
	}{Padding: edges{1, 1, 1, 1}}
	if err := cfg.Decode(&f); err != nil {
		return nil, err
	}
	p := f.Padding
	return &nn.ZeroPadding2D{Top: p.top, Bottom: p.bottom, Left: p.left, Right: p.right}, nil
}

func newCropping2D(cfg *LayerConfig) (nn.Layer, error) {
	var f struct {
		Cropping edges `json:"cropping"`
	}
	if err := cfg.Decode(&f); err != nil {
		return nil, err
	}
	c := f.Cropping
	return &nn.Cropping2D{Top: c.top, Bottom: c.bottom, Left: c.left, Right: c.right}, nil
}

// newMultiplyBeta builds the RRDN models' MultiplyBeta layer, which scales
// the residual of each dense block by beta (0.2 in every published model).
func newMultiplyBeta(cfg *LayerConfig) (nn.Layer, error) {
	f := struct {
		Beta float32 `json:"beta"`
	}{Beta: 0.2}
	if err := cfg.Decode(&f); err != nil {
		return nil, err
	}
	return &nn.Scale{ClassName: "MultiplyBeta", Factor: f.Beta}, nil
}
