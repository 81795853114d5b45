package worker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"math"
	"slices"
	"testing"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/message"
	"github.com/upscaler-go/upscaler/models"
	"github.com/upscaler-go/upscaler/worker"
)

// direct upscales img with the default model in process, as a reference.
func direct(t *testing.T, in *message.Tensor, opts *upscaler.Options) *upscaler.Result {
	t.Helper()
	u, err := upscaler.New(upscaler.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	var input any = upscaler.Uint8Tensor{Shape: in.Shape, Data: in.Uint8}
	if in.DataType == message.FP32 {
		t, _ := in.ToTensor()
		input = t
	}
	res, err := u.Upscale(context.Background(), input, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestServeResult(t *testing.T) {
	img := fixture(t, 12, 10)
	rgba := message.FromUint8(img.Pix, 10, 12, 4)
	for _, tc := range []struct {
		name      string
		in        *message.Tensor
		wantShape []int
	}{
		{"fp32 rgb", rgbTensor(img, message.FP32), []int{20, 24, 3}},
		{"uint8 rgb", rgbTensor(img, message.UINT8), []int{20, 24, 3}},
		{"uint8 rgba", rgba, []int{20, 24, 4}},
		{"fp32 batch", &message.Tensor{Shape: []int{1, 10, 12, 3}, DataType: message.FP32, Float32: rgbTensor(img, message.FP32).Float32}, []int{1, 20, 24, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, worker.Config{})
			s.send(&message.Request{ID: "r1", Tensor: tc.in})
			m, ps := s.final()
			res, ok := m.(*message.Result)
			if !ok {
				t.Fatalf("reply = %T %+v, want a Result", m, m)
			}
			if len(ps) != 0 {
				t.Errorf("got %d progress messages without patches, want 0", len(ps))
			}
			if res.ID != "r1" || !slices.Equal(res.Tensor.Shape, tc.wantShape) || res.Tensor.DataType != tc.in.DataType {
				t.Fatalf("Result = ID %q, shape %v, %v; want ID r1, shape %v, %v", res.ID, res.Tensor.Shape, res.Tensor.DataType, tc.wantShape, tc.in.DataType)
			}

			// The values are those of one in-process Upscale call.
			want := direct(t, tc.in, nil)
			wantImg := want.Image()
			c := tc.wantShape[len(tc.wantShape)-1]
			for i := range 24 * 20 {
				for ch := range c {
					var got, exp float64
					if tc.in.DataType == message.FP32 {
						got, exp = float64(res.Tensor.Float32[i*c+ch]), float64(want.Tensor.Data[i*3+ch])
					} else {
						got, exp = float64(res.Tensor.Uint8[i*c+ch]), float64(wantImg.Pix[i*4+ch])
					}
					if got != exp {
						t.Fatalf("Result element %d channel %d = %v, want %v from Upscaler.Upscale", i, ch, got, exp)
					}
				}
			}
			if err := s.end(); err != nil {
				t.Errorf("Serve() = %v after the input ended, want nil", err)
			}
		})
	}
}

func TestServePNGOutput(t *testing.T) {
	img := fixture(t, 8, 8)
	s := serve(t, worker.Config{})
	s.send(&message.Request{ID: "p", Tensor: message.FromUint8(img.Pix, 8, 8, 4), Output: message.OutputPNG})
	m, _ := s.final()
	res, ok := m.(*message.Result)
	if !ok {
		t.Fatalf("reply = %T %+v, want a Result", m, m)
	}
	out, err := png.Decode(bytes.NewReader(res.PNG))
	if err != nil {
		t.Fatalf("decode PNG result: %v", err)
	}
	if b := out.Bounds(); b.Dx() != 16 || b.Dy() != 16 {
		t.Errorf("PNG result is %d×%d, want 16×16", b.Dx(), b.Dy())
	}
	want := direct(t, rgbTensor(img, message.UINT8), nil).Image()
	for y := range 16 {
		for x := range 16 {
			r, g, b, _ := out.At(x, y).RGBA()
			p := want.Pix[(y*16+x)*4:]
			if uint8(r>>8) != p[0] || uint8(g>>8) != p[1] || uint8(b>>8) != p[2] {
				t.Fatalf("PNG pixel (%d, %d) = %d %d %d, want %d %d %d", x, y, r>>8, g>>8, b>>8, p[0], p[1], p[2])
			}
		}
	}
}

func TestServeProgress(t *testing.T) {
	img := fixture(t, 16, 16)
	for _, withPatches := range []bool{false, true} {
		t.Run(fmt.Sprintf("patches=%v", withPatches), func(t *testing.T) {
			s := serve(t, worker.Config{})
			s.send(&message.Request{ID: "g", Tensor: rgbTensor(img, message.FP32), PatchSize: 8, ProgressPatches: withPatches})
			m, ps := s.final()
			res, ok := m.(*message.Result)
			if !ok {
				t.Fatalf("reply = %T %+v, want a Result", m, m)
			}
			if len(ps) != 4 {
				t.Fatalf("got %d progress messages for 4 patches, want 4", len(ps))
			}
			for i, p := range ps {
				if p.ID != "g" || p.Fraction != float64(i+1)/4 || p.Row != i/2 || p.Col != i%2 {
					t.Errorf("progress %d = ID %q, fraction %v, row %d, col %d; want g, %v, %d, %d", i, p.ID, p.Fraction, p.Row, p.Col, float64(i+1)/4, i/2, i%2)
				}
				if (p.Patch != nil) != withPatches {
					t.Fatalf("progress %d has patch %v, want patch %v", i, p.Patch != nil, withPatches)
				}
				if !withPatches {
					continue
				}
				if !slices.Equal(p.Patch.Shape, []int{16, 16, 3}) {
					t.Fatalf("progress %d patch shape = %v, want [16 16 3]", i, p.Patch.Shape)
				}
				// The patch is the result's region at its row and column.
				for y := range 16 {
					for x := range 16 {
						for c := range 3 {
							got := p.Patch.Float32[(y*16+x)*3+c]
							want := res.Tensor.Float32[((p.Row*16+y)*32+p.Col*16+x)*3+c]
							if got != want {
								t.Fatalf("progress %d patch (%d, %d, %d) = %v, want %v from the result", i, x, y, c, got, want)
							}
						}
					}
				}
			}
		})
	}
}

func TestServeBadFrames(t *testing.T) {
	good := rgbTensor(fixture(t, 4, 4), message.FP32)
	nan := rgbTensor(fixture(t, 4, 4), message.FP32)
	nan.Float32[5] = float32(math.NaN())
	nanFrame, err := message.AppendFrame(nil, &message.Request{ID: "nan", Tensor: nan})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		frame []byte
		id    string
		kind  message.ErrorKind
	}{
		{"truncated header", rawFrame(`{"type":"request","id":"t1","inp`, nil, 0), "", message.KindInvalid},
		{"shape disagrees with data", rawFrame(`{"type":"request","id":"s1","inputs":[{"name":"image","shape":[2,2,3],"datatype":"FP32","parameters":{"binary_data_size":24}}]}`, make([]byte, 24), 24), "s1", message.KindInvalid},
		{"data length disagrees with tensors", rawFrame(`{"type":"request","id":"s2","inputs":[{"name":"image","shape":[1,2,3],"datatype":"FP32","parameters":{"binary_data_size":24}}]}`, make([]byte, 16), 16), "s2", message.KindInvalid},
		{"shape of 100 GB", rawFrame(`{"type":"request","id":"big","inputs":[{"name":"image","shape":[200000,200000,3],"datatype":"FP32","parameters":{"binary_data_size":480000000000}}]}`, nil, 0), "big", message.KindTooLarge},
		{"NaN value", nanFrame, "nan", message.KindInvalid},
		{"unsupported datatype", rawFrame(`{"type":"request","id":"i64","inputs":[{"name":"image","shape":[1,1,3],"datatype":"INT64","parameters":{"binary_data_size":24}}]}`, make([]byte, 24), 24), "i64", message.KindUnsupported},
		{"result sent to the worker", mustFrame(t, &message.Result{ID: "res", Tensor: good}), "res", message.KindInvalid},
		{"unknown model", mustFrame(t, &message.Request{ID: "um", Tensor: good, Model: "no-such-model"}), "um", message.KindUnknownModel},
		{"scale the model lacks", mustFrame(t, &message.Request{ID: "sc", Tensor: good, Model: "esrgan-slim", Scale: 5}), "sc", message.KindUnknownModel},
		{"patch padding too large", mustFrame(t, &message.Request{ID: "pad", Tensor: good, PatchSize: 4, Padding: 2}), "pad", message.KindInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, worker.Config{})
			s.sendRaw(tc.frame)
			wantError(t, s.next(), tc.id, tc.kind)

			// The worker goes on serving.
			s.send(&message.Request{ID: "after", Tensor: good})
			if m, _ := s.final(); m.RequestID() != "after" {
				t.Fatalf("reply after the bad frame = %T for %q, want the Result of \"after\"", m, m.RequestID())
			} else if _, ok := m.(*message.Result); !ok {
				t.Fatalf("reply after the bad frame = %+v, want a Result", m)
			}
			if err := s.end(); err != nil {
				t.Errorf("Serve() = %v, want nil", err)
			}
		})
	}
}

func mustFrame(t *testing.T, m message.Message) []byte {
	t.Helper()
	b, err := message.AppendFrame(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestServeFatalFrames(t *testing.T) {
	for _, tc := range []struct {
		name      string
		frame     []byte
		wantReply bool
		id        string
		kind      message.ErrorKind
	}{
		{"prefix declaring 100 GB", rawFrame(`{"type":"request","id":"huge"}`, nil, 100<<30), true, "huge", message.KindTooLarge},
		{"bad magic", []byte("GET / HTTP/1.1\r\n\r\n"), true, "", message.KindInvalid},
		{"stream ends inside a frame", rawFrame(`{"type":"request","id":"cut","inputs":[{"name":"image","shape":[1,2,3],"datatype":"FP32","parameters":{"binary_data_size":24}}]}`, make([]byte, 10), 24), false, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, worker.Config{})
			// The worker stops reading at the bad part, so write from
			// another goroutine; closing the input ends the write.
			written := make(chan struct{})
			go func() {
				s.in.Write(tc.frame)
				close(written)
			}()
			if !tc.wantReply {
				<-written
			}
			if tc.wantReply {
				wantError(t, s.next(), tc.id, tc.kind)
			}
			err := s.end()
			if err == nil {
				t.Fatalf("Serve() = nil after a frame that breaks the stream, want an error")
			}
			var de *message.DecodeError
			if tc.wantReply && !errors.As(err, &de) {
				t.Errorf("Serve() = %v, want a *message.DecodeError", err)
			}
			if !tc.wantReply && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("Serve() = %v, want an error matching io.ErrUnexpectedEOF", err)
			}
		})
	}
}

func TestServeCancel(t *testing.T) {
	img := fixture(t, 256, 256)
	s := serve(t, worker.Config{})

	// A running request: cancel it after its first patch.
	s.send(&message.Request{ID: "run", Tensor: rgbTensor(img, message.UINT8), PatchSize: 32, Padding: 4})
	// A waiting request: Concurrency is 1, so it never starts.
	s.send(&message.Request{ID: "wait", Tensor: rgbTensor(img, message.UINT8), PatchSize: 32, Padding: 4})
	if p, ok := s.next().(*message.Progress); !ok || p.ID != "run" {
		t.Fatalf("first reply = %+v, want progress of \"run\"", p)
	}
	s.send(&message.Cancel{ID: "wait"})
	s.send(&message.Cancel{ID: "run"})
	s.send(&message.Cancel{ID: "never-sent"})

	replies := map[string]message.Message{}
	progress := map[string]int{}
	for len(replies) < 2 {
		m := s.next()
		if _, ok := m.(*message.Progress); ok {
			progress[m.RequestID()]++
			continue
		}
		replies[m.RequestID()] = m
	}
	wantError(t, replies["run"], "run", message.KindCanceled)
	wantError(t, replies["wait"], "wait", message.KindCanceled)
	if n := progress["wait"]; n != 0 {
		t.Errorf("canceled waiting request sent %d progress messages, want 0", n)
	}
	if n := progress["run"]; n >= 63 {
		t.Errorf("canceled request sent %d of 64 progress messages, want it stopped early", n)
	}
	if err := s.end(); err != nil {
		t.Errorf("Serve() = %v, want nil", err)
	}
}

func TestServeFinishesAtEOF(t *testing.T) {
	s := serve(t, worker.Config{Concurrency: 2})
	img := fixture(t, 8, 8)
	for i := range 3 {
		s.send(&message.Request{ID: fmt.Sprint("e", i), Tensor: rgbTensor(img, message.FP32)})
	}
	s.in.Close() // EOF right after the requests
	got := map[string]bool{}
	for range 3 {
		m := s.next()
		if _, ok := m.(*message.Result); !ok {
			t.Fatalf("reply = %+v, want a Result", m)
		}
		got[m.RequestID()] = true
	}
	if len(got) != 3 {
		t.Errorf("results for %v, want e0, e1 and e2", got)
	}
	if err := s.end(); err != nil {
		t.Errorf("Serve() = %v, want nil", err)
	}
}

func TestServeDuplicateID(t *testing.T) {
	img := fixture(t, 128, 128)
	s := serve(t, worker.Config{})
	s.send(&message.Request{ID: "d", Tensor: rgbTensor(img, message.UINT8), PatchSize: 32, Padding: 4})
	s.send(&message.Request{ID: "d", Tensor: rgbTensor(img, message.UINT8)})
	var sawDup, sawResult bool
	for !(sawDup && sawResult) {
		switch m := s.next().(type) {
		case *message.Error:
			wantError(t, m, "d", message.KindInvalid)
			sawDup = true
		case *message.Result:
			sawResult = true
		}
	}
}

func TestServeContextCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	inR, inW := io.Pipe()
	defer inW.Close()
	done := make(chan error, 1)
	go func() { done <- worker.Serve(ctx, inR, io.Discard, worker.Config{}) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Serve() after cancel = %v, want context.Canceled", err)
	}
}

func TestServeLoadsModelOnce(t *testing.T) {
	logs := newLogCounter()
	resolves := 0
	cfg := worker.Config{
		Logger: slog.New(logs),
		Models: func(name string, scale int) (models.Definition, error) {
			resolves++
			return models.Lookup(name, scale)
		},
	}
	s := serve(t, cfg)
	img := fixture(t, 4, 4)
	for i, model := range []string{"", "default-model", "default-model:2x", ""} {
		s.send(&message.Request{ID: fmt.Sprint(i), Tensor: rgbTensor(img, message.FP32), Model: model})
		if m, _ := s.final(); m.RequestID() != fmt.Sprint(i) {
			t.Fatalf("reply %+v, want one for request %d", m, i)
		}
	}
	if err := s.end(); err != nil {
		t.Fatal(err)
	}
	if n := logs.count("worker: loading model"); n != 1 {
		t.Errorf("model loaded %d times for 4 requests, want 1", n)
	}
	if resolves != 4 {
		t.Errorf("Config.Models called %d times, want 4", resolves)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("pipe closed") }

func TestServeWriteError(t *testing.T) {
	var in bytes.Buffer
	w := message.NewWriter(&in)
	if err := w.WriteMessage(&message.Request{ID: "w", Tensor: rgbTensor(fixture(t, 4, 4), message.FP32)}); err != nil {
		t.Fatal(err)
	}
	err := worker.Serve(context.Background(), &in, failWriter{}, worker.Config{})
	if err == nil {
		t.Fatalf("Serve() with a failing output = nil, want the write error")
	}
}
