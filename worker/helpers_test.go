package worker_test

import (
	"context"
	"encoding/binary"
	"errors"
	"image"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/upscaler-go/upscaler/internal/testfiles"
	"github.com/upscaler-go/upscaler/message"
	"github.com/upscaler-go/upscaler/worker"
)

// fixture returns the w×h top-left corner (repeated when w×h is larger) of the fixture image of the
// default model's package.
func fixture(t testing.TB, w, h int) *image.NRGBA {
	t.Helper()
	return testfiles.Tiled(testfiles.Asset(t, testfiles.DefaultModel, "assets/fixture.png"), w, h)
}

// rgbTensor returns the RGB values of img as a tensor message of datatype dt.
func rgbTensor(img *image.NRGBA, dt message.DataType) *message.Tensor {
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	rgb := make([]uint8, 0, w*h*3)
	for i := 0; i < len(img.Pix); i += 4 {
		rgb = append(rgb, img.Pix[i:i+3]...)
	}
	if dt == message.UINT8 {
		return message.FromUint8(rgb, h, w, 3)
	}
	f := make([]float32, len(rgb))
	for i, v := range rgb {
		f[i] = float32(v)
	}
	return &message.Tensor{Shape: []int{h, w, 3}, DataType: message.FP32, Float32: f}
}

// session is one Serve call on pipes.
type session struct {
	t    testing.TB
	in   *io.PipeWriter
	out  *io.PipeReader
	w    *message.Writer
	r    *message.Reader
	done chan error
}

// serve starts Serve with cfg and ends it when the test ends.
func serve(t testing.TB, cfg worker.Config) *session {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &session{t: t, in: inW, out: outR, w: message.NewWriter(inW), r: message.NewReader(outR, nil), done: make(chan error, 1)}
	go func() {
		err := worker.Serve(context.Background(), inR, outW, cfg)
		outW.Close()
		s.done <- err
	}()
	t.Cleanup(func() {
		inW.Close()
		go io.Copy(io.Discard, outR)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			t.Errorf("Serve did not return 30 s after its input closed")
		}
	})
	return s
}

// send writes m to the worker.
func (s *session) send(m message.Message) {
	s.t.Helper()
	if err := s.w.WriteMessage(m); err != nil {
		s.t.Fatalf("send %T: %v", m, err)
	}
}

// sendRaw writes bytes to the worker.
func (s *session) sendRaw(b []byte) {
	s.t.Helper()
	if _, err := s.in.Write(b); err != nil {
		s.t.Fatalf("send raw frame: %v", err)
	}
}

// next reads the next reply.
func (s *session) next() message.Message {
	s.t.Helper()
	m, err := s.r.ReadMessage()
	if err != nil {
		s.t.Fatalf("read reply: %v", err)
	}
	return m
}

// final reads replies until the Result or Error of a request and returns
// it with the Progress messages before it.
func (s *session) final() (message.Message, []*message.Progress) {
	s.t.Helper()
	var ps []*message.Progress
	for {
		m := s.next()
		if p, ok := m.(*message.Progress); ok {
			ps = append(ps, p)
			continue
		}
		return m, ps
	}
}

// end closes the worker's input and returns Serve's error.
func (s *session) end() error {
	s.t.Helper()
	s.in.Close()
	go io.Copy(io.Discard, s.out)
	select {
	case err := <-s.done:
		s.done <- err
		return err
	case <-time.After(30 * time.Second):
		s.t.Fatalf("Serve did not return 30 s after its input closed")
		return nil
	}
}

// rawFrame builds a version 1 frame whose prefix declares the given data
// length, which may differ from len(data).
func rawFrame(hdr string, data []byte, binLen uint64) []byte {
	b := []byte("UPS\x01")
	b = binary.LittleEndian.AppendUint32(b, uint32(len(hdr)))
	b = binary.LittleEndian.AppendUint64(b, binLen)
	b = append(b, hdr...)
	return append(b, data...)
}

// logCounter is a slog handler that counts records by message.
type logCounter struct {
	mu     *sync.Mutex
	counts map[string]int
}

func newLogCounter() *logCounter { return &logCounter{mu: &sync.Mutex{}, counts: map[string]int{}} }

func (h *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *logCounter) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.counts[r.Message]++
	h.mu.Unlock()
	return nil
}
func (h *logCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logCounter) WithGroup(string) slog.Handler      { return h }
func (h *logCounter) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[msg]
}

// wantError checks that m is an Error of the given kind for id.
func wantError(t testing.TB, m message.Message, id string, kind message.ErrorKind) {
	t.Helper()
	e, ok := m.(*message.Error)
	if !ok {
		t.Fatalf("reply = %T %+v, want an Error of kind %s", m, m, kind)
	}
	if e.Kind != kind || e.ID != id {
		t.Errorf("reply = Error{ID: %q, Kind: %s, Message: %q}, want ID %q, kind %s", e.ID, e.Kind, e.Message, id, kind)
	}
	var target *message.Error
	if !errors.As(error(e), &target) {
		t.Errorf("errors.As(%v, *message.Error) = false", e)
	}
}
