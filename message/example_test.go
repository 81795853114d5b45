package message_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/upscaler-go/upscaler/message"
)

// A worker loop: read requests, reply to bad frames and keep going.
func ExampleReader() {
	// The caller's side: one bad frame, then one good request.
	var stream bytes.Buffer
	stream.Write(rawFrame(`{"type":"request","id":"r1","inputs":[]}`, nil))
	w := message.NewWriter(&stream)
	pixels := []uint8{255, 0, 0, 0, 255, 0} // two RGB pixels
	if err := w.WriteMessage(&message.Request{ID: "r2", Model: "esrgan-slim", Tensor: message.FromUint8(pixels, 1, 2, 3)}); err != nil {
		fmt.Println(err)
		return
	}

	// The worker's side.
	r := message.NewReader(&stream, nil)
	for {
		m, err := r.ReadMessage()
		var de *message.DecodeError
		switch {
		case err == io.EOF:
			return
		case errors.As(err, &de):
			reply := de.Reply()
			fmt.Printf("reply error %s for %q\n", reply.Kind, reply.ID)
			if de.Fatal {
				return
			}
			continue
		case err != nil:
			fmt.Println(err)
			return
		}
		req := m.(*message.Request)
		fmt.Printf("request %q: model %s, shape %v, datatype %v\n", req.ID, req.Model, req.Tensor.Shape, req.Tensor.DataType)
	}
	// Output:
	// reply error invalid for "r1"
	// request "r2": model esrgan-slim, shape [1 2 3], datatype UINT8
}

func ExampleUnmarshalJSON() {
	t, err := message.UnmarshalJSON([]byte(`{"data": [255, 128, 0, 0, 0, 0], "shape": [1, 2, 3]}`), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(t.Shape, t.DataType, t.Float32)
	// Output: [1 2 3] FP32 [255 128 0 0 0 0]
}
