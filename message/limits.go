package message

// Default limits. An 8192×8192 RGBA image is 1<<26 pixels, and as an FP32
// tensor it is 1 GiB of data, so the defaults admit exactly that image.
const (
	DefaultMaxHeaderBytes = 64 << 10
	DefaultMaxDataBytes   = 1 << 30
	DefaultMaxPixels      = 1 << 26
)

// Limits bounds the size of the messages a receiver accepts. Decoders check
// the lengths a frame declares against Limits before they allocate buffers
// of that size. A zero or negative field selects its default, and a nil
// *Limits selects all defaults.
type Limits struct {
	// MaxHeaderBytes bounds the JSON header of a frame. Default 64 KiB.
	MaxHeaderBytes int

	// MaxDataBytes bounds the binary data of a frame, all tensors together.
	// Default 1 GiB.
	MaxDataBytes int64

	// MaxPixels bounds height × width of each tensor. Default 1<<26.
	MaxPixels int64
}

// orDefaults returns a copy of l with each unset field at its default.
func (l *Limits) orDefaults() Limits {
	var out Limits
	if l != nil {
		out = *l
	}
	if out.MaxHeaderBytes <= 0 {
		out.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if out.MaxDataBytes <= 0 {
		out.MaxDataBytes = DefaultMaxDataBytes
	}
	if out.MaxPixels <= 0 {
		out.MaxPixels = DefaultMaxPixels
	}
	return out
}

// noLimits is the Limits value that encoders check against. Encoders reject
// malformed messages but leave size decisions to the receiver.
var noLimits = Limits{MaxHeaderBytes: 1<<31 - 1, MaxDataBytes: 1<<63 - 1, MaxPixels: 1<<63 - 1}
