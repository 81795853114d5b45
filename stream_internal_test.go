package upscaler

import (
	"context"
	"image"
	"strings"
	"testing"
)

// TestBandImageRejectsReadingBack checks that reading a row the band image
// has released fails the write instead of giving black pixels.
func TestBandImageRejectsReadingBack(t *testing.T) {
	u, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	rgb, _, plan, err := u.prepare(image.NewNRGBA(image.Rect(0, 0, 16, 40)), &Options{PatchSize: 8, Padding: 2})
	if err != nil {
		t.Fatal(err)
	}
	img := newBandImage(context.Background(), &patchRunner{u: u, model: u.model, img: rgb, plan: plan})
	img.At(0, 0)
	img.At(0, 70) // releases the bands above row 64
	if img.err != nil {
		t.Fatalf("reading rows in order: %v", img.err)
	}
	img.At(0, 0)
	if img.err == nil || !strings.Contains(img.err.Error(), "row 0") {
		t.Errorf("reading row 0 after row 70: error %v, want one naming row 0", img.err)
	}
}
