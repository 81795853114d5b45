package autopatch

import (
	"testing"

	"github.com/upscaler-go/upscaler"
)

func TestApply(t *testing.T) {
	tests := []struct {
		name         string
		w, h         int
		paddingGiven bool
		in, want     upscaler.Options
	}{
		{"at the limit", 512, 512, false, upscaler.Options{}, upscaler.Options{}},
		{"over the limit", 513, 512, false, upscaler.Options{}, upscaler.Options{PatchSize: Size, AutoPadding: true}},
		{"padding given", 600, 600, true, upscaler.Options{Padding: 4}, upscaler.Options{PatchSize: Size, Padding: 4}},
		{"auto padding given", 600, 600, true, upscaler.Options{AutoPadding: true}, upscaler.Options{PatchSize: Size, AutoPadding: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.in
			Apply(&opts, tc.w, tc.h, tc.paddingGiven)
			if opts.PatchSize != tc.want.PatchSize {
				t.Errorf("PatchSize = %d, want %d", opts.PatchSize, tc.want.PatchSize)
			}
			if opts.Padding != tc.want.Padding {
				t.Errorf("Padding = %d, want %d", opts.Padding, tc.want.Padding)
			}
			if opts.AutoPadding != tc.want.AutoPadding {
				t.Errorf("AutoPadding = %v, want %v", opts.AutoPadding, tc.want.AutoPadding)
			}
		})
	}
}
