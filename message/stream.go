package message

import (
	"errors"
	"fmt"
	"io"
)

const (
	// chunkSize is the size of the scratch buffer that Reader and Writer use
	// to convert FP32 data.
	chunkSize = 64 << 10

	// eagerBytes is the data size up to which Reader allocates a tensor at
	// once. Above it, Reader doubles the slice as the bytes arrive, which
	// costs up to one extra copy of the data.
	eagerBytes = 4 << 20
)

// Reader decodes a stream of frames, such as a worker process's stdin.
// A Reader is not safe for concurrent use.
//
// ReadMessage checks every declared length against the Limits before it
// allocates. It allocates tensors of up to 4 MiB at once and grows larger
// ones as their bytes arrive, so a peer that declares a large tensor and
// sends nothing costs at most 4 MiB.
type Reader struct {
	src     io.Reader
	lim     Limits
	prefix  [PrefixSize]byte
	header  []byte
	scratch []byte
	err     error // sticky error once the frame boundary is lost
}

// NewReader returns a Reader that reads frames from r and applies lim; a
// nil lim selects the defaults. The Reader does not buffer beyond the
// current frame, so r may be shared with other readers between frames.
func NewReader(r io.Reader, lim *Limits) *Reader {
	return &Reader{src: r, lim: lim.orDefaults()}
}

// ReadMessage reads the next frame and returns its message, which passed
// Validate. The message owns its data; the Reader keeps no reference to it.
//
// Errors:
//   - io.EOF, unwrapped, when the stream ends at a frame boundary.
//   - a *DecodeError without Fatal for a bad frame whose lengths are within
//     the Limits. The Reader has consumed the frame, so the caller can reply
//     with DecodeError.Reply and call ReadMessage again.
//   - a *DecodeError with Fatal set for a bad magic number or lengths over
//     the Limits. The Reader does not read the rest of such a frame, which
//     could be any size, so it cannot find the next one.
//   - an error wrapping io.ErrUnexpectedEOF when the stream ends inside a
//     frame, and any error of the underlying reader, wrapped.
//
// After any error except a non-fatal *DecodeError, every later call
// returns the same error.
func (r *Reader) ReadMessage() (Message, error) {
	if r.err != nil {
		return nil, r.err
	}
	m, err := r.readFrame()
	var de *DecodeError
	if err != nil && !(errors.As(err, &de) && !de.Fatal) {
		r.err = err
	}
	return m, err
}

func (r *Reader) readFrame() (Message, error) {
	// Step 1: prefix and lengths.
	if _, err := io.ReadFull(r.src, r.prefix[:]); err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("message: read frame prefix: %w", err)
	}
	pre, perr := parsePrefix(r.prefix[:], r.lim)
	if perr != nil && perr.Fatal {
		return nil, perr
	}

	// Step 2: header. Its length is within MaxHeaderBytes.
	if cap(r.header) < pre.headerLen {
		r.header = make([]byte, pre.headerLen)
	}
	hdr := r.header[:pre.headerLen]
	if _, err := io.ReadFull(r.src, hdr); err != nil {
		return nil, fmt.Errorf("message: read frame header: %w", noEOF(err))
	}
	if pre.binLen > r.lim.MaxDataBytes {
		return nil, tooLargeData(pre.binLen, hdr, r.lim)
	}
	if perr != nil {
		perr.ID = headerID(hdr)
		return nil, r.skip(pre.binLen, perr)
	}
	m, ps, err := decodeHeader(hdr, pre.binLen, r.lim)
	if err != nil {
		return nil, r.skip(pre.binLen, err)
	}

	// Step 3: data. decodeHeader checked that the payloads fill binLen.
	for _, p := range ps {
		if err := r.readPayload(p); err != nil {
			return nil, fmt.Errorf("message: read frame data: %w", noEOF(err))
		}
	}

	// Step 4: values. The frame is consumed, so the error is not fatal.
	if err := checkValues(m); err != nil {
		return nil, err
	}
	return m, nil
}

// skip discards the n data bytes of a rejected frame and returns err, or
// the read error if the stream ends first.
func (r *Reader) skip(n int64, err error) error {
	if _, cerr := io.CopyN(io.Discard, r.src, n); cerr != nil {
		return fmt.Errorf("message: skip data of rejected frame (%v): %w", err, noEOF(cerr))
	}
	return err
}

// readPayload reads the data of p. Past eagerBytes it grows the
// destination slice at most twice as far as the bytes received.
func (r *Reader) readPayload(p payload) error {
	if p.u8 != nil {
		buf := make([]uint8, 0, min(p.n, eagerBytes))
		for len(buf) < p.n {
			k := min(p.n-len(buf), chunkSize)
			buf = grow(buf, len(buf)+k, p.n)
			if _, err := io.ReadFull(r.src, buf[len(buf):len(buf)+k]); err != nil {
				return err
			}
			buf = buf[:len(buf)+k]
		}
		*p.u8 = buf
		return nil
	}

	if r.scratch == nil {
		r.scratch = make([]byte, chunkSize)
	}
	buf := make([]float32, 0, min(p.n, eagerBytes/4))
	for len(buf) < p.n {
		k := min(p.n-len(buf), chunkSize/4)
		if _, err := io.ReadFull(r.src, r.scratch[:4*k]); err != nil {
			return err
		}
		buf = grow(buf, len(buf)+k, p.n)
		getFloat32s(buf[len(buf):len(buf)+k], r.scratch[:4*k])
		buf = buf[:len(buf)+k]
	}
	*p.f32 = buf
	return nil
}

// grow returns s with capacity for need elements, doubling the capacity but
// never beyond limit, so the final slice has capacity exactly limit.
func grow[E any](s []E, need, limit int) []E {
	if need <= cap(s) {
		return s
	}
	c := min(max(2*cap(s), need), limit)
	t := make([]E, len(s), c)
	copy(t, s)
	return t
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF, for reads inside a frame.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Writer encodes messages as frames onto a stream, such as a worker
// process's stdout. A Writer is not safe for concurrent use; wrap it in a
// mutex to share it between goroutines.
type Writer struct {
	dst io.Writer
	buf []byte
	err error // sticky write error
}

// NewWriter returns a Writer that writes frames to w. Each frame goes out
// in calls of up to 64 KiB, or one call per large UINT8 tensor, so w needs
// no extra buffering.
func NewWriter(w io.Writer) *Writer {
	return &Writer{dst: w}
}

// WriteMessage writes m as one frame. A message that AppendFrame would
// reject returns the same error and writes nothing. After a write error
// the stream may hold part of a frame, so every later call returns that
// error.
func (w *Writer) WriteMessage(m Message) error {
	if w.err != nil {
		return w.err
	}
	if err := checkMessage(m, noLimits, true); err != nil {
		return err
	}
	h, ps := encodeHeader(m)
	buf, err := appendPrefixHeader(w.buf[:0], h, ps)
	if err != nil {
		return err
	}

	for _, p := range ps {
		switch {
		case p.u8 != nil && len(*p.u8) > chunkSize:
			// Large byte data goes out directly, without a copy.
			buf = w.flush(buf)
			w.write(*p.u8)
		case p.u8 != nil:
			buf = append(buf, *p.u8...)
		default:
			src := *p.f32
			for len(src) > 0 {
				k := min(len(src), (chunkSize-len(buf))/4)
				if k <= 0 {
					buf = w.flush(buf)
					continue
				}
				buf = appendFloat32s(buf, src[:k])
				src = src[k:]
			}
		}
		if len(buf) >= chunkSize {
			buf = w.flush(buf)
		}
	}
	buf = w.flush(buf)
	w.buf = buf
	return w.err
}

// flush writes buf unless an earlier write failed, and returns buf[:0].
func (w *Writer) flush(buf []byte) []byte {
	if len(buf) > 0 {
		w.write(buf)
	}
	return buf[:0]
}

func (w *Writer) write(b []byte) {
	if w.err != nil {
		return
	}
	if _, err := w.dst.Write(b); err != nil {
		w.err = fmt.Errorf("message: write frame: %w", err)
	}
}
