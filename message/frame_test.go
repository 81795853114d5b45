package message_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/upscaler-go/upscaler/message"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// rawFrame builds a version 1 frame from a header and data, with the
// lengths the prefix declares set to the real ones.
func rawFrame(hdr string, data []byte) []byte {
	return rawFrameLen(1, hdr, uint32(len(hdr)), data, uint64(len(data)))
}

// rawFrameLen builds a frame whose prefix declares the given version and
// lengths, which may differ from the real ones.
func rawFrameLen(version byte, hdr string, hdrLen uint32, data []byte, binLen uint64) []byte {
	b := []byte{'U', 'P', 'S', version}
	b = binary.LittleEndian.AppendUint32(b, hdrLen)
	b = binary.LittleEndian.AppendUint64(b, binLen)
	b = append(b, hdr...)
	return append(b, data...)
}

func TestFrameRoundTrip(t *testing.T) {
	for _, s := range sampleMessages(t) {
		t.Run(s.name, func(t *testing.T) {
			prefix := []byte("existing")
			frame, err := message.AppendFrame(bytes.Clone(prefix), s.msg)
			if err != nil {
				t.Fatalf("AppendFrame(%+v) error = %v", s.msg, err)
			}
			if !bytes.HasPrefix(frame, prefix) {
				t.Fatalf("AppendFrame(dst, m) dropped the bytes of dst")
			}
			frame = frame[len(prefix):]
			if hl := binary.LittleEndian.Uint32(frame[4:8]); (message.PrefixSize+hl)%8 != 0 {
				t.Errorf("AppendFrame(%s) data starts at byte %d, want a multiple of 8", s.name, message.PrefixSize+hl)
			}
			got, n, err := message.DecodeFrame(frame, nil)
			if err != nil {
				t.Fatalf("DecodeFrame(AppendFrame(%+v)) error = %v", s.msg, err)
			}
			if n != len(frame) {
				t.Errorf("DecodeFrame(frame of %d bytes) n = %d, want %d", len(frame), n, len(frame))
			}
			if !reflect.DeepEqual(got, s.msg) {
				t.Errorf("DecodeFrame(AppendFrame(m)) = %+v, want %+v", got, s.msg)
			}
		})
	}
}

func TestStreamRoundTrip(t *testing.T) {
	// All samples back to back on one stream, then tensors that span several
	// 64 KiB chunks, and tensors over 4 MiB, which the Reader grows as their
	// data arrives.
	msgs := sampleMessages(t)
	msgs = append(msgs,
		namedMessage{"large fp32", &message.Request{ID: "big-f", Tensor: &message.Tensor{
			Shape: []int{1, 100, 101, 3}, DataType: message.FP32, Float32: ramp(100 * 101 * 3)}}},
		namedMessage{"large uint8", &message.Result{ID: "big-u", Tensor: message.FromUint8(rampBytes(200*201*4), 200, 201, 4)}},
		namedMessage{"large png", &message.Result{ID: "big-p", PNG: rampBytes(70000)}},
		namedMessage{"huge fp32", &message.Progress{ID: "huge-f", Patch: &message.Tensor{
			Shape: []int{601, 600, 3}, DataType: message.FP32, Float32: ramp(601 * 600 * 3)}}},
		namedMessage{"huge uint8", &message.Request{ID: "huge-u", Tensor: message.FromUint8(rampBytes(1001*1100*4), 1, 1001, 1100, 4)}},
	)
	var stream bytes.Buffer
	w := message.NewWriter(&stream)
	var appended []byte
	for _, s := range msgs {
		if err := w.WriteMessage(s.msg); err != nil {
			t.Fatalf("WriteMessage(%s) error = %v", s.name, err)
		}
		var err error
		if appended, err = message.AppendFrame(appended, s.msg); err != nil {
			t.Fatalf("AppendFrame(%s) error = %v", s.name, err)
		}
	}
	if !bytes.Equal(stream.Bytes(), appended) {
		t.Fatalf("Writer wrote %d bytes that differ from AppendFrame's %d", stream.Len(), len(appended))
	}

	r := message.NewReader(&stream, nil)
	for _, s := range msgs {
		got, err := r.ReadMessage()
		if err != nil {
			t.Fatalf("ReadMessage() for %s error = %v", s.name, err)
		}
		if !reflect.DeepEqual(got, s.msg) {
			t.Errorf("ReadMessage() = %+v, want %s %+v", got, s.name, s.msg)
		}
	}
	for range 2 {
		if m, err := r.ReadMessage(); err != io.EOF {
			t.Errorf("ReadMessage() at end = %v, %v, want nil, io.EOF", m, err)
		}
	}
}

// goldenMessage is the message of testdata/request.hex.
func goldenMessage() message.Message {
	return &message.Request{ID: "g1", Model: "esrgan-slim", Scale: 2, Padding: message.PaddingAuto,
		Tensor: &message.Tensor{Shape: []int{1, 2, 3}, DataType: message.FP32, Float32: []float32{0, 1, 0.5, 255, -0.25, 128}}}
}

// TestGoldenFrame pins the frame bytes. Run with -update to rewrite
// testdata/request.hex after a deliberate format change.
func TestGoldenFrame(t *testing.T) {
	path := filepath.Join("testdata", "request.hex")
	got, err := message.AppendFrame(nil, goldenMessage())
	if err != nil {
		t.Fatalf("AppendFrame(golden) error = %v", err)
	}

	if *update {
		var text strings.Builder
		for b := got; len(b) > 0; b = b[min(16, len(b)):] {
			text.WriteString(hex.EncodeToString(b[:min(16, len(b))]) + "\n")
		}
		if err := os.WriteFile(path, []byte(text.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden: %v; run go test -update to create it", err)
	}
	want, err := hex.DecodeString(strings.Join(strings.Fields(string(text)), ""))
	if err != nil {
		t.Fatalf("golden %s is not hex: %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("AppendFrame(golden) =\n%s\nwant\n%s", hex.Dump(got), hex.Dump(want))
	}

	m, _, err := message.DecodeFrame(want, nil)
	if err != nil {
		t.Fatalf("DecodeFrame(golden) error = %v", err)
	}
	if !reflect.DeepEqual(m, goldenMessage()) {
		t.Errorf("DecodeFrame(golden) = %+v, want %+v", m, goldenMessage())
	}
}

// imageHeader returns a request header for one tensor.
func imageHeader(shape, datatype string, size int) string {
	return `{"type":"request","id":"bad","inputs":[{"name":"image","shape":` + shape + `,"datatype":"` + datatype +
		`","parameters":{"binary_data_size":` + strconv.Itoa(size) + `}}]}`
}

func TestDecodeFrameRejects(t *testing.T) {
	nanData := binary.LittleEndian.AppendUint32(make([]byte, 8), 0x7fc00000) // element 2 is NaN
	nanData = append(nanData, make([]byte, 4*3)...)
	tests := []struct {
		name  string
		frame []byte
		kind  message.ErrorKind
		fatal bool
		text  string // a fact the error must name
	}{
		{"bad magic", append([]byte("GIF8"), make([]byte, 20)...), message.KindInvalid, true, "magic"},
		{"header over limit", rawFrameLen(1, "{}", 1<<20, nil, 0), message.KindTooLarge, true, "1048576"},
		{"data 100 GB", rawFrameLen(1, imageHeader("[1,2,3]", "UINT8", 6), uint32(len(imageHeader("[1,2,3]", "UINT8", 6))), nil, 100e9),
			message.KindTooLarge, true, "100000000000"},
		{"version 2", rawFrameLen(2, `{"id":"v2"}`, 11, []byte{1, 2}, 2), message.KindUnsupported, false, "version 2"},
		{"header not json", rawFrame(`{"type":`, nil), message.KindInvalid, false, "JSON"},
		{"header empty", rawFrame(``, nil), message.KindInvalid, false, "JSON"},
		{"unknown type", rawFrame(`{"type":"hello","id":"x"}`, nil), message.KindInvalid, false, "hello"},
		{"cancel no id", rawFrame(`{"type":"cancel"}`, nil), message.KindInvalid, false, "empty ID"},
		{"shape data mismatch", rawFrame(imageHeader("[1,2,3]", "UINT8", 5), make([]byte, 5)), message.KindInvalid, false, "binary_data_size is 5"},
		{"prefix length mismatch", rawFrame(imageHeader("[1,2,3]", "UINT8", 6), make([]byte, 7)), message.KindInvalid, false, "7"},
		{"no binary_data_size", rawFrame(`{"type":"request","id":"x","inputs":[{"name":"image","shape":[1,1,3],"datatype":"UINT8","data":[1,2,3]}]}`, nil),
			message.KindInvalid, false, "binary_data_size"},
		{"nan", rawFrame(imageHeader("[1,2,3]", "FP32", 24), nanData), message.KindInvalid, false, "element 2"},
		{"rank 2", rawFrame(imageHeader("[2,3]", "UINT8", 6), make([]byte, 6)), message.KindInvalid, false, "rank 2"},
		{"rank 5", rawFrame(imageHeader("[1,1,1,2,3]", "UINT8", 6), make([]byte, 6)), message.KindInvalid, false, "rank 5"},
		{"batch 2", rawFrame(imageHeader("[2,1,1,3]", "UINT8", 6), make([]byte, 6)), message.KindInvalid, false, "batch size 2"},
		{"5 channels", rawFrame(imageHeader("[1,2,5]", "UINT8", 10), make([]byte, 10)), message.KindInvalid, false, "5 channels"},
		{"zero dimension", rawFrame(imageHeader("[0,2,3]", "UINT8", 0), nil), message.KindInvalid, false, "[0 2 3]"},
		{"negative dimension", rawFrame(imageHeader("[-1,-2,3]", "UINT8", 6), make([]byte, 6)), message.KindInvalid, false, "[-1 -2 3]"},
		{"dimension not int", rawFrame(imageHeader("[1.5,2,3]", "UINT8", 9), make([]byte, 9)), message.KindInvalid, false, "JSON"},
		{"unknown datatype", rawFrame(imageHeader("[1,2,3]", "INT64", 48), make([]byte, 48)), message.KindUnsupported, false, "INT64"},
		{"pixels over limit", rawFrame(imageHeader("[100000,100000,3]", "UINT8", 1), []byte{0}), message.KindTooLarge, false, "100000×100000"},
		{"dimension overflow", rawFrame(imageHeader("[9223372036854775807,9223372036854775807,3]", "UINT8", 1), []byte{0}),
			message.KindTooLarge, false, "pixels"},
		{"two inputs", rawFrame(`{"type":"request","id":"x","inputs":[{"name":"image"},{"name":"image"}]}`, nil),
			message.KindInvalid, false, "2 input"},
		{"result outputs in inputs", rawFrame(`{"type":"result","id":"x","inputs":[{"name":"image"}]}`, nil),
			message.KindInvalid, false, "1 input"},
		{"wrong tensor name", rawFrame(`{"type":"request","id":"x","inputs":[{"name":"pixels","shape":[1,1,3],"datatype":"UINT8","parameters":{"binary_data_size":3}}]}`,
			[]byte{1, 2, 3}), message.KindInvalid, false, "pixels"},
		{"png rank 2", rawFrame(`{"type":"result","id":"x","outputs":[{"name":"png","shape":[1,3],"datatype":"UINT8","parameters":{"binary_data_size":3}}]}`,
			[]byte{1, 2, 3}), message.KindInvalid, false, "[1 3]"},
		{"bad padding", rawFrame(`{"type":"request","id":"x","parameters":{"padding":"wide"}}`, nil), message.KindInvalid, false, "wide"},
		{"bad output", rawFrame(`{"type":"request","id":"x","parameters":{"output":"gif"},"inputs":[{"name":"image","shape":[1,1,3],"datatype":"UINT8","parameters":{"binary_data_size":3}}]}`,
			[]byte{1, 2, 3}), message.KindInvalid, false, "gif"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, n, err := message.DecodeFrame(tt.frame, nil)
			var de *message.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("DecodeFrame(%s) = %+v, %v, want a *DecodeError", tt.name, m, err)
			}
			if de.Kind != tt.kind || de.Fatal != tt.fatal {
				t.Errorf("DecodeFrame(%s) kind, fatal = %q, %v, want %q, %v", tt.name, de.Kind, de.Fatal, tt.kind, tt.fatal)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("DecodeFrame(%s) error = %q, want it to name %q", tt.name, err, tt.text)
			}
			wantN := len(tt.frame)
			if tt.fatal {
				wantN = 0
			}
			if n != wantN {
				t.Errorf("DecodeFrame(%s) n = %d, want %d", tt.name, n, wantN)
			}

			// The Reader returns the same error and, unless it is fatal,
			// reads the good frame that follows.
			good := &message.Cancel{ID: "next"}
			stream, err := message.AppendFrame(bytes.Clone(tt.frame), good)
			if err != nil {
				t.Fatal(err)
			}
			r := message.NewReader(bytes.NewReader(stream), nil)
			_, rerr := r.ReadMessage()
			var rde *message.DecodeError
			if !errors.As(rerr, &rde) || rde.Kind != de.Kind || rde.Fatal != de.Fatal {
				t.Fatalf("ReadMessage(%s) error = %v, want %v", tt.name, rerr, err)
			}
			next, nerr := r.ReadMessage()
			if tt.fatal {
				if nerr != rerr {
					t.Errorf("ReadMessage() after fatal error = %v, %v, want the same error %v", next, nerr, rerr)
				}
				return
			}
			if nerr != nil || !reflect.DeepEqual(next, good) {
				t.Errorf("ReadMessage() after %s = %+v, %v, want %+v, nil", tt.name, next, nerr, good)
			}
		})
	}
}

func TestDecodeErrorNamesRequest(t *testing.T) {
	_, _, err := message.DecodeFrame(rawFrame(imageHeader("[2,3]", "UINT8", 6), make([]byte, 6)), nil)
	var de *message.DecodeError
	if !errors.As(err, &de) || de.ID != "bad" {
		t.Errorf("DecodeFrame(rank 2 request \"bad\") error = %#v, want a *DecodeError with ID \"bad\"", err)
	}
}

func TestTruncatedFrame(t *testing.T) {
	frame, err := message.AppendFrame(nil, goldenMessage())
	if err != nil {
		t.Fatal(err)
	}
	// Cut inside the prefix, at the end of the prefix, inside the header,
	// at the end of the header and inside the data.
	hdrEnd := len(frame) - 24
	for _, cut := range []int{1, message.PrefixSize - 1, message.PrefixSize, message.PrefixSize + 5, hdrEnd, len(frame) - 1} {
		t.Run(strconv.Itoa(cut), func(t *testing.T) {
			if _, n, err := message.DecodeFrame(frame[:cut], nil); !errors.Is(err, io.ErrUnexpectedEOF) || n != 0 {
				t.Errorf("DecodeFrame(first %d of %d bytes) = n %d, %v, want 0, io.ErrUnexpectedEOF", cut, len(frame), n, err)
			}
			r := message.NewReader(bytes.NewReader(frame[:cut]), nil)
			_, err := r.ReadMessage()
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("ReadMessage(first %d of %d bytes) error = %v, want io.ErrUnexpectedEOF", cut, len(frame), err)
			}
			var de *message.DecodeError
			if errors.As(err, &de) {
				t.Errorf("ReadMessage(truncated) error is a *DecodeError, want a stream error")
			}
			if _, again := r.ReadMessage(); again != err {
				t.Errorf("ReadMessage() after truncation = %v, want the same error %v", again, err)
			}
		})
	}
	// A bad frame whose data is cut off cannot be skipped.
	bad := rawFrame(imageHeader("[2,3]", "UINT8", 6), make([]byte, 6))
	r := message.NewReader(bytes.NewReader(bad[:len(bad)-2]), nil)
	if _, err := r.ReadMessage(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("ReadMessage(bad frame, truncated data) error = %v, want io.ErrUnexpectedEOF", err)
	}
}

// stopReader returns the bytes of r and then fails the test if the
// decoder reads any further.
type stopReader struct {
	t *testing.T
	r io.Reader
}

func (s *stopReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF {
		s.t.Errorf("decoder read past the header of a frame it should reject")
	}
	return n, err
}

// TestHugeFrameFailsFast checks that a frame declaring 100 GB of data is
// rejected from its prefix and header alone, with a small allocation.
func TestHugeFrameFailsFast(t *testing.T) {
	shape := "[100000,100000,3]"
	hdr := imageHeader(shape, "FP32", 120e9)
	frame := rawFrameLen(1, hdr, uint32(len(hdr)), nil, 120e9)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	r := message.NewReader(&stopReader{t: t, r: bytes.NewReader(frame)}, nil)
	_, err := r.ReadMessage()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)

	var de *message.DecodeError
	if !errors.As(err, &de) || de.Kind != message.KindTooLarge || !de.Fatal || de.ID != "bad" {
		t.Fatalf("ReadMessage(100 GB frame) error = %#v, want a fatal too_large *DecodeError for request \"bad\"", err)
	}
	if elapsed > time.Second {
		t.Errorf("ReadMessage(100 GB frame) took %v, want well under 1s", elapsed)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("ReadMessage(100 GB frame) allocated %d bytes, want under 1 MiB", alloc)
	}

	allocs := testing.AllocsPerRun(20, func() {
		if _, _, err := message.DecodeFrame(frame, nil); err == nil {
			t.Fatal("DecodeFrame(100 GB frame) error = nil")
		}
	})
	if allocs > 30 {
		t.Errorf("DecodeFrame(100 GB frame) made %v allocations, want at most 30", allocs)
	}
}

// TestSlowPeerAllocation checks that a frame within the limits whose data
// never arrives costs a few MiB, not the declared size.
func TestSlowPeerAllocation(t *testing.T) {
	hdr := imageHeader("[4096,4096,4]", "FP32", 4096*4096*4*4)
	frame := rawFrameLen(1, hdr, uint32(len(hdr)), make([]byte, 100), 4096*4096*4*4)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := message.NewReader(bytes.NewReader(frame), nil).ReadMessage()
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("ReadMessage(256 MiB frame, 100 data bytes) error = %v, want io.ErrUnexpectedEOF", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 5<<20 {
		t.Errorf("ReadMessage(256 MiB frame, 100 data bytes) allocated %d bytes, want under 5 MiB", alloc)
	}
}

func TestLimits(t *testing.T) {
	m := &message.Request{ID: "l", Tensor: message.FromUint8(rampBytes(10*10*3), 10, 10, 3)}
	frame, err := message.AppendFrame(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		lim   message.Limits
		fatal bool
	}{
		{"pixels", message.Limits{MaxPixels: 99}, false},
		{"data", message.Limits{MaxDataBytes: 299}, true},
		{"header", message.Limits{MaxHeaderBytes: 16}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := message.DecodeFrame(frame, &tt.lim)
			var de *message.DecodeError
			if !errors.As(err, &de) || de.Kind != message.KindTooLarge || de.Fatal != tt.fatal {
				t.Errorf("DecodeFrame(10×10 RGB, %+v) error = %v, want too_large with Fatal %v", tt.lim, err, tt.fatal)
			}
		})
	}
	exact := message.Limits{MaxPixels: 100, MaxDataBytes: 300, MaxHeaderBytes: len(frame) - 300 - message.PrefixSize}
	if _, _, err := message.DecodeFrame(frame, &exact); err != nil {
		t.Errorf("DecodeFrame(10×10 RGB, limits equal to its size %+v) error = %v, want nil", exact, err)
	}
}

// failWriter fails every write after the first n bytes.
type failWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		return 0, errDiskFull
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriterErrors(t *testing.T) {
	var buf bytes.Buffer
	w := message.NewWriter(&buf)
	bad := &message.Request{ID: "x", Tensor: message.FromUint8(rampBytes(5), 1, 1, 5)}
	var de *message.DecodeError
	if err := w.WriteMessage(bad); !errors.As(err, &de) {
		t.Errorf("WriteMessage(5 channels) error = %v, want a *DecodeError", err)
	}
	if _, err := message.AppendFrame(nil, bad); !errors.As(err, &de) {
		t.Errorf("AppendFrame(5 channels) error = %v, want a *DecodeError", err)
	}
	if buf.Len() != 0 {
		t.Errorf("WriteMessage(5 channels) wrote %d bytes, want 0", buf.Len())
	}
	if err := w.WriteMessage(&message.Cancel{ID: "ok"}); err != nil {
		t.Errorf("WriteMessage(cancel) after a rejected message error = %v, want nil", err)
	}

	big := &message.Request{ID: "big", Tensor: message.FromUint8(rampBytes(200*200*3), 200, 200, 3)}
	fw := message.NewWriter(&failWriter{n: 1000})
	if err := fw.WriteMessage(big); !errors.Is(err, errDiskFull) {
		t.Errorf("WriteMessage(to failing writer) error = %v, want errDiskFull", err)
	}
	if err := fw.WriteMessage(&message.Cancel{ID: "c"}); !errors.Is(err, errDiskFull) {
		t.Errorf("WriteMessage() after a write error = %v, want the same errDiskFull", err)
	}
}

func BenchmarkWriteMessage(b *testing.B) {
	m := &message.Request{ID: "b", Tensor: &message.Tensor{Shape: []int{512, 512, 3}, DataType: message.FP32, Float32: ramp(512 * 512 * 3)}}
	w := message.NewWriter(io.Discard)
	b.SetBytes(512 * 512 * 3 * 4)
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteMessage(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadMessage(b *testing.B) {
	m := &message.Request{ID: "b", Tensor: &message.Tensor{Shape: []int{512, 512, 3}, DataType: message.FP32, Float32: ramp(512 * 512 * 3)}}
	frame, err := message.AppendFrame(nil, m)
	if err != nil {
		b.Fatal(err)
	}
	src := bytes.NewReader(frame)
	r := message.NewReader(src, nil)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(frame)
		if _, err := r.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}
