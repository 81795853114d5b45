package message

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
)

// Frame prefix layout. All integers are little-endian.
//
//	offset  size  field
//	0       3     magic "UPS"
//	3       1     version, 1
//	4       4     header length in bytes, uint32
//	8       8     binary data length in bytes, uint64
//	16            header JSON, then binary data
//
// The prefix layout is the same in every version, so a reader can skip a
// frame of a version it does not know.
const (
	// PrefixSize is the length of the fixed frame prefix in bytes.
	PrefixSize = 16

	// Version is the frame version this package writes and reads.
	Version = 1

	magic = "UPS"
)

// prefix is the decoded fixed part of a frame.
type prefix struct {
	version   byte
	headerLen int
	binLen    int64
}

// parsePrefix decodes the first PrefixSize bytes of p and checks the
// lengths against lim. A returned *DecodeError with Fatal set means the
// reader cannot find the next frame. A version error is returned with the
// lengths, which lie within lim, so the caller can skip the frame. A binary
// length over the limit is left for the caller, which reads the header
// first to learn the request ID.
func parsePrefix(p []byte, lim Limits) (prefix, *DecodeError) {
	if string(p[:3]) != magic {
		return prefix{}, &DecodeError{Kind: KindInvalid, Fatal: true,
			Err: fmt.Errorf("frame starts with bytes % x, not the magic %q; the stream is not a message stream or lost its framing",
				p[:4], magic)}
	}
	hl := binary.LittleEndian.Uint32(p[4:8])
	bl := binary.LittleEndian.Uint64(p[8:16])
	if int64(hl) > int64(lim.MaxHeaderBytes) {
		return prefix{}, &DecodeError{Kind: KindTooLarge, Fatal: true,
			Err:    fmt.Errorf("frame header of %d bytes is over the limit of %d", hl, lim.MaxHeaderBytes),
			Advice: "raise Limits.MaxHeaderBytes"}
	}
	pre := prefix{version: p[3], headerLen: int(hl), binLen: int64(min(bl, math.MaxInt64))}
	if pre.version != Version {
		return pre, &DecodeError{Kind: KindUnsupported,
			Err: fmt.Errorf("frame version %d is not supported; this decoder reads version %d", pre.version, Version)}
	}
	return pre, nil
}

// tooLargeData returns the fatal error for a binary length over lim,
// naming the request from hdr if its ID can be read.
func tooLargeData(binLen int64, hdr []byte, lim Limits) *DecodeError {
	return &DecodeError{ID: headerID(hdr), Kind: KindTooLarge, Fatal: true,
		Err:    fmt.Errorf("frame declares %d data bytes, over the limit of %d", binLen, lim.MaxDataBytes),
		Advice: "split the image or raise Limits.MaxDataBytes"}
}

// AppendFrame appends the frame encoding of m to dst and returns the
// extended slice. It returns a *DecodeError, and dst unchanged, when m
// fails the checks of Validate other than the size limits and the finite
// check, which are the receiver's to apply.
func AppendFrame(dst []byte, m Message) ([]byte, error) {
	if err := checkMessage(m, noLimits, true); err != nil {
		return dst, err
	}
	h, ps := encodeHeader(m)
	out, err := appendPrefixHeader(dst, h, ps)
	if err != nil {
		return dst, err
	}
	for _, p := range ps {
		out = appendPayload(out, p)
	}
	return out, nil
}

// appendPrefixHeader appends the prefix and the JSON header.
func appendPrefixHeader(dst []byte, h header, ps []payload) ([]byte, error) {
	js, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("message: encode frame header: %w", err)
	}
	// Spaces after the JSON align the data to 8 bytes from the frame start,
	// so a JavaScript reader can view FP32 data as a Float32Array in place.
	for (PrefixSize+len(js))%8 != 0 {
		js = append(js, ' ')
	}
	if len(js) > math.MaxUint32 {
		return nil, fmt.Errorf("message: encode frame header: %d bytes do not fit the uint32 length", len(js))
	}
	var binLen int64
	for _, p := range ps {
		binLen += p.bytes()
	}
	dst = append(dst, magic...)
	dst = append(dst, Version)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(js)))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(binLen))
	return append(dst, js...), nil
}

// appendPayload appends the little-endian bytes of p.
func appendPayload(dst []byte, p payload) []byte {
	if p.u8 != nil {
		return append(dst, *p.u8...)
	}
	return appendFloat32s(dst, *p.f32)
}

// appendFloat32s appends src to dst as little-endian float32 values.
func appendFloat32s(dst []byte, src []float32) []byte {
	start := len(dst)
	dst = slices.Grow(dst, 4*len(src))[:start+4*len(src)]
	out := dst[start:]
	for i, v := range src {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
	}
	return dst
}

// getFloat32s reads little-endian float32 values from src into dst.
// len(src) must be 4*len(dst).
func getFloat32s(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

// DecodeFrame decodes the frame at the start of b and returns the message
// and the frame length n, so the next frame starts at b[n:]. The data of
// UINT8 tensors and PNG results aliases b, with capacity clipped so that
// appending copies. FP32 data is copied into new slices.
//
// Errors:
//   - b shorter than the frame its prefix declares: an error wrapping
//     io.ErrUnexpectedEOF, with n = 0. Read more bytes and call again.
//   - a bad magic number or lengths over lim: a *DecodeError with Fatal
//     set and n = 0; no frame boundary is known.
//   - any other bad frame: a *DecodeError with n set to the frame length,
//     so the caller can reply and go on at b[n:].
//
// All lengths are checked against lim (nil selects the defaults) before
// anything of that size is allocated, and the message passes Validate.
func DecodeFrame(b []byte, lim *Limits) (m Message, n int, err error) {
	l := lim.orDefaults()

	// Step 1: prefix and lengths.
	if len(b) < PrefixSize {
		return nil, 0, fmt.Errorf("message: frame of %d bytes is shorter than the %d-byte prefix: %w",
			len(b), PrefixSize, io.ErrUnexpectedEOF)
	}
	pre, perr := parsePrefix(b, l)
	if perr != nil && perr.Fatal {
		return nil, 0, perr
	}
	if len(b)-PrefixSize < pre.headerLen {
		return nil, 0, fmt.Errorf("message: frame header needs %d bytes, %d present: %w",
			pre.headerLen, len(b)-PrefixSize, io.ErrUnexpectedEOF)
	}
	hdr := b[PrefixSize : PrefixSize+pre.headerLen]
	if pre.binLen > l.MaxDataBytes {
		return nil, 0, tooLargeData(pre.binLen, hdr, l)
	}
	rest := int64(len(b) - PrefixSize - pre.headerLen)
	if rest < pre.binLen {
		return nil, 0, fmt.Errorf("message: frame data needs %d bytes, %d present: %w",
			pre.binLen, rest, io.ErrUnexpectedEOF)
	}
	n = PrefixSize + pre.headerLen + int(pre.binLen)
	if perr != nil {
		perr.ID = headerID(hdr)
		return nil, n, perr
	}

	// Step 2: header.
	m, ps, err := decodeHeader(hdr, pre.binLen, l)
	if err != nil {
		return nil, n, err
	}

	// Step 3: data. decodeHeader checked that the payloads fill binLen.
	data := b[PrefixSize+pre.headerLen : n]
	for _, p := range ps {
		size := int(p.bytes())
		if p.u8 != nil {
			*p.u8 = data[:size:size]
		} else {
			*p.f32 = make([]float32, p.n)
			getFloat32s(*p.f32, data[:size])
		}
		data = data[size:]
	}

	// Step 4: values.
	if err := checkValues(m); err != nil {
		return nil, n, err
	}
	return m, n, nil
}

// headerID returns the "id" of a frame header, or "" if the header is not
// JSON. It only improves error messages.
func headerID(hdr []byte) string {
	var h struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(hdr, &h)
	return h.ID
}
