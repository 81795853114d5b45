package upscaler_test

import (
	"context"
	"image"
	"testing"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/internal/testfiles"
)

// TestAutoPaddingWideModel measures, for esrgan-thick x4 at patch 64, how
// close tiled output comes to one untiled pass with UpscalerJS's hard cut
// (padding 2) and with auto padding, whose receptive field is far wider
// than the patch. Auto must be the better of the two.
func TestAutoPaddingWideModel(t *testing.T) {
	if testing.Short() {
		t.Skip("runs esrgan-thick several times; runs without -short")
	}
	u := newUpscaler(t, testfiles.ESRGANThick, "esrgan-thick", 4)
	if r := u.ReceptiveRadius(); r < 64 {
		t.Fatalf("ReceptiveRadius() = %v; the test assumes a field wider than the patch", r)
	}
	inputs := []struct {
		name string
		img  image.Image
	}{
		{"fixture", fixture(t, testfiles.ESRGANThick)},
		{"grey", grey(200, 150)},
	}
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			whole, err := u.Upscale(context.Background(), in.img, nil)
			if err != nil {
				t.Fatal(err)
			}
			hard, err := u.Upscale(context.Background(), in.img, &upscaler.Options{PatchSize: 64, Padding: 2})
			if err != nil {
				t.Fatal(err)
			}
			auto, err := u.Upscale(context.Background(), in.img, &upscaler.Options{PatchSize: 64, AutoPadding: true})
			if err != nil {
				t.Fatal(err)
			}
			hardPSNR, autoPSNR := psnr(hard.Tensor, whole.Tensor), psnr(auto.Tensor, whole.Tensor)
			t.Logf("%s: PSNR against untiled: hard cut, padding 2: %.2f dB; auto padding: %.2f dB", in.name, hardPSNR, autoPSNR)
			if autoPSNR <= hardPSNR {
				t.Errorf("auto padding PSNR %.2f dB is not above the hard cut's %.2f dB", autoPSNR, hardPSNR)
			}
		})
	}
}
