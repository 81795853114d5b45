package upscaler_test

import (
	"context"
	"fmt"
	"image"
	"testing"

	"github.com/upscaler-go/upscaler"
	"github.com/upscaler-go/upscaler/internal/testfiles"
)

// TestAutoPaddingSeamless checks that auto padding makes tiled output equal
// one untiled pass for models whose receptive field fits in the patch.
func TestAutoPaddingSeamless(t *testing.T) {
	cases := []struct {
		pkg, family string
		radius      float64 // expected receptive radius, input pixels
		patches     []int
	}{
		{testfiles.ESRGANSlim, "esrgan-slim", 9.5, []int{32, 48}},
		{testfiles.ESRGANMedium, "esrgan-medium", 17.5, []int{48, 64}},
	}
	for _, c := range cases {
		if testing.Short() && c.family != "esrgan-slim" {
			continue // medium at small patches takes minutes under the race detector
		}
		u := newUpscaler(t, c.pkg, c.family, 2)
		if r := u.ReceptiveRadius(); r < c.radius-1 || r > c.radius+1 {
			t.Errorf("%s ReceptiveRadius() = %v, want about %v", c.family, r, c.radius)
		}
		inputs := map[string]image.Image{"fixture": fixture(t, c.pkg), "grey": grey(200, 150)}
		for name, img := range inputs {
			whole, err := u.Upscale(context.Background(), img, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, patch := range c.patches {
				t.Run(fmt.Sprintf("%s/%s/patch%d", c.family, name, patch), func(t *testing.T) {
					tiled, err := u.Upscale(context.Background(), img, &upscaler.Options{PatchSize: patch, AutoPadding: true})
					if err != nil {
						t.Fatal(err)
					}
					if d := maxRoundedDiff(tiled.Tensor, whole.Tensor); d > 1 {
						t.Errorf("tiled output differs from untiled by up to %v levels, want at most 1", d)
					}
				})
			}
		}
	}
}
