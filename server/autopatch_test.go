package server

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"testing"

	"github.com/upscaler-go/upscaler"
)

// TestAutoPatches checks that a request without a patch size is cut into
// patches of 256 when its input has more than 512×512 pixels, with
// automatic padding unless the request gives one.
func TestAutoPatches(t *testing.T) {
	if testing.Short() {
		t.Skip("upscales a 600×450 image four times")
	}

	_, ts := newTestServer(t, Config{})
	// A model keeps the buffers of its largest call, so the references come
	// from an upscaler of their own that the test closes, not the shared one.
	u, err := upscaler.New(upscaler.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()

	img := image.NewNRGBA(image.Rect(0, 0, 600, 450))
	for y := range 450 {
		for x := range 600 {
			img.SetNRGBA(x, y, color.NRGBA{uint8(7*x + 13*y), uint8(x * y % 251), uint8(3*x ^ 5*y), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		query string
		opts  *upscaler.Options
	}{
		{"no patch size", "", &upscaler.Options{PatchSize: 256, AutoPadding: true}},
		{"empty patch size", "?patchSize=", &upscaler.Options{PatchSize: 256, AutoPadding: true}},
		{"padding only", "?padding=4", &upscaler.Options{PatchSize: 256, Padding: 4}},
		{"whole image asked for", "?patchSize=0", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(t, newRequest(t, "POST", ts.URL+"/v1/upscale"+tc.query, "image/png", buf.Bytes()))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("POST /v1/upscale%s: status %d, want 200: %s", tc.query, resp.StatusCode, body)
			}

			got, err := png.Decode(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			want, err := u.Upscale(context.Background(), img, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(got, want.Image()); d != 0 {
				t.Errorf("POST /v1/upscale%s differs from the library with options %+v by %d levels", tc.query, tc.opts, d)
			}
		})
	}
}
