package message_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/upscaler-go/upscaler/message"
)

// fuzzLimits keep every fuzz input small, so each run is brief.
var fuzzLimits = &message.Limits{MaxHeaderBytes: 4 << 10, MaxDataBytes: 64 << 10, MaxPixels: 4 << 10}

func FuzzDecodeFrame(f *testing.F) {
	for _, s := range sampleMessages(f) {
		frame, err := message.AppendFrame(nil, s.msg)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frame)
	}
	if text, err := os.ReadFile(filepath.Join("testdata", "request.hex")); err == nil {
		if golden, err := hex.DecodeString(strings.Join(strings.Fields(string(text)), "")); err == nil {
			f.Add(golden)
		}
	}
	f.Add(rawFrame(imageHeader("[1,2,3]", "FP32", 24), make([]byte, 24)))

	f.Fuzz(func(t *testing.T, b []byte) {
		m, n, err := message.DecodeFrame(b, fuzzLimits)

		// The Reader must agree with DecodeFrame on the first frame.
		rm, rerr := message.NewReader(bytes.NewReader(b), fuzzLimits).ReadMessage()
		if (err == nil) != (rerr == nil) {
			t.Fatalf("DecodeFrame error = %v but ReadMessage error = %v", err, rerr)
		}
		if err != nil {
			var de *message.DecodeError
			if errors.As(err, &de) && !de.Fatal && (n <= 0 || n > len(b)) {
				t.Fatalf("DecodeFrame non-fatal error %v with n = %d of %d bytes", err, n, len(b))
			}
			return
		}
		if !reflect.DeepEqual(m, rm) {
			t.Fatalf("DecodeFrame = %+v but ReadMessage = %+v", m, rm)
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("DecodeFrame n = %d of %d bytes", n, len(b))
		}

		// An accepted message encodes and decodes to itself.
		frame, err := message.AppendFrame(nil, m)
		if err != nil {
			t.Fatalf("AppendFrame(decoded %+v) error = %v", m, err)
		}
		again, _, err := message.DecodeFrame(frame, fuzzLimits)
		if err != nil {
			t.Fatalf("DecodeFrame(AppendFrame(m)) error = %v", err)
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("DecodeFrame(AppendFrame(m)) = %+v, want %+v", again, m)
		}
	})
}

func FuzzUnmarshalJSON(f *testing.F) {
	for _, s := range sampleMessages(f) {
		for _, tn := range messageTensors(s.msg) {
			js, err := message.MarshalJSON(tn)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(js)
		}
	}
	f.Add([]byte(`{"data":[0.5,1e2,-3],"shape":[1,1,1,3]}`))

	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<16 {
			return
		}
		tn, err := message.UnmarshalJSON(b, fuzzLimits)
		if err != nil {
			var de *message.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("UnmarshalJSON error %v is not a *DecodeError", err)
			}
			return
		}
		js, err := message.MarshalJSON(tn)
		if err != nil {
			t.Fatalf("MarshalJSON(accepted %+v) error = %v", tn, err)
		}
		again, err := message.UnmarshalJSON(js, fuzzLimits)
		if err != nil {
			t.Fatalf("UnmarshalJSON(MarshalJSON(t)) error = %v", err)
		}
		if !reflect.DeepEqual(again, tn) {
			t.Fatalf("UnmarshalJSON(MarshalJSON(t)) = %+v, want %+v", again, tn)
		}
	})
}
