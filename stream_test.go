package upscaler_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/upscaler-go/upscaler"
)

// pattern returns an opaque w×h image with detail in every channel.
func pattern(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(7*x + 13*y), uint8(x * y % 251), uint8(3*x ^ 5*y), 255})
		}
	}
	return img
}

func TestUpscaleToFileSameBytes(t *testing.T) {
	u := defaultUpscaler(t)
	opaque := pattern(70, 45)
	transparent := pattern(30, 20)
	transparent.SetNRGBA(3, 4, color.NRGBA{1, 2, 3, 100})
	// Alpha just under the 16-bit maximum rounds to 255 in 8 bits, so the
	// output is opaque and PNG stores it as RGB.
	nearlyOpaque := image.NewNRGBA64(image.Rect(0, 0, 20, 12))
	for i := 0; i < len(nearlyOpaque.Pix); i += 8 {
		nearlyOpaque.Pix[i], nearlyOpaque.Pix[i+2], nearlyOpaque.Pix[i+4] = uint8(i), uint8(3*i), uint8(7*i)
		nearlyOpaque.Pix[i+6], nearlyOpaque.Pix[i+7] = 0xff, 0xdc // 65500
	}
	tests := []struct {
		name string
		img  image.Image
		opts upscaler.Options
		file string
	}{
		{"png patches", opaque, upscaler.Options{PatchSize: 16, Padding: 3}, "out.png"},
		{"png auto padding", opaque, upscaler.Options{PatchSize: 32, AutoPadding: true}, "out.png"},
		{"jpeg patches", opaque, upscaler.Options{PatchSize: 12, Padding: 2}, "out.jpg"},
		{"png whole", opaque, upscaler.Options{}, "out.png"},
		{"transparent png", transparent, upscaler.Options{PatchSize: 16, Padding: 3}, "out.png"},
		{"transparent jpeg", transparent, upscaler.Options{PatchSize: 16, Padding: 3}, "out.jpg"},
		{"transparent alpha model", transparent, upscaler.Options{PatchSize: 16, Padding: 3, Alpha: upscaler.AlphaModel}, "out.png"},
		{"transparent whole", transparent, upscaler.Options{}, "out.png"},
		{"alpha that rounds to opaque", nearlyOpaque, upscaler.Options{PatchSize: 8, Padding: 2}, "out.png"},
		{"webp", opaque, upscaler.Options{PatchSize: 32, Padding: 4}, "out.webp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			res, err := u.Upscale(context.Background(), tc.img, &tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			wantPath := filepath.Join(dir, "want-"+tc.file)
			if err := res.WriteFile(wantPath, nil); err != nil {
				t.Fatal(err)
			}
			gotPath := filepath.Join(dir, tc.file)
			if err := u.UpscaleToFile(context.Background(), tc.img, gotPath, &tc.opts, nil); err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(gotPath)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("UpscaleToFile wrote %d bytes that differ from Upscale and WriteFile's %d", len(got), len(want))
			}

			var buf bytes.Buffer
			f, err := upscaler.FormatFromPath(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if err := u.UpscaleTo(context.Background(), &buf, tc.img, f, 0, &tc.opts); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("UpscaleTo wrote %d bytes that differ from Upscale and WriteFile's %d", buf.Len(), len(want))
			}
		})
	}
}

func TestUpscaleToFileCancel(t *testing.T) {
	u := defaultUpscaler(t)
	tests := []struct {
		name  string
		file  string
		patch int // the patch whose progress cancels, counted from 1
	}{
		{"png mid-way", "out.png", 3},
		{"png after the last patch", "out.png", 16},
		{"webp after the last patch", "out.webp", 16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			patches := 0
			opts := &upscaler.Options{PatchSize: 16, Padding: 0, Progress: func(upscaler.Progress) {
				if patches++; patches == tc.patch {
					cancel()
				}
			}}
			err := u.UpscaleToFile(ctx, pattern(64, 64), filepath.Join(dir, tc.file), opts, nil)
			if !errors.Is(err, upscaler.ErrAborted) || !errors.Is(err, context.Canceled) {
				t.Errorf("UpscaleToFile after cancel: error %v, want ErrAborted and context.Canceled", err)
			}
			if patches < tc.patch {
				t.Fatalf("the call ran %d patches, fewer than the %d the test cancels at", patches, tc.patch)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				t.Errorf("cancelled UpscaleToFile left %s in the folder", e.Name())
			}
		})
	}
}

func TestUpscaleToFileExisting(t *testing.T) {
	u := defaultUpscaler(t)
	for _, name := range []string{"out.png", "out.webp"} {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte("keep me"), 0o644); err != nil {
			t.Fatal(err)
		}
		patches := 0
		opts := &upscaler.Options{PatchSize: 16, Padding: 2, Progress: func(upscaler.Progress) { patches++ }}
		err := u.UpscaleToFile(context.Background(), pattern(20, 20), path, opts, nil)
		if !errors.Is(err, os.ErrExist) || !strings.Contains(err.Error(), "WriteOptions.Overwrite") {
			t.Errorf("UpscaleToFile over an existing %s: error %v, want one matching os.ErrExist that names WriteOptions.Overwrite", name, err)
		}
		if patches != 0 {
			t.Errorf("UpscaleToFile over an existing %s ran %d patches before failing, want none", name, patches)
		}
		if b, _ := os.ReadFile(path); string(b) != "keep me" {
			t.Errorf("UpscaleToFile replaced an existing %s without Overwrite", name)
		}
	}
}

// TestUpscaleToFileMemoryFlat checks that writing a file in patches holds
// no more for a tall image than for a short one of the same width: the
// output is encoded as its rows are computed, never held whole.
func TestUpscaleToFileMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("collects garbage after each of 160 patches")
	}
	u := defaultUpscaler(t)
	dir := t.TempDir()
	working := func(h int) int64 {
		img := pattern(64, h)
		peak := livePeak(func(progress func(upscaler.Progress)) {
			opts := &upscaler.Options{PatchSize: 32, Padding: 4, Progress: progress}
			path := filepath.Join(dir, "out.png")
			if err := u.UpscaleToFile(context.Background(), img, path, opts, &upscaler.WriteOptions{Overwrite: true}); err != nil {
				t.Fatal(err)
			}
		})
		runtime.KeepAlive(img)
		return peak
	}
	working(64) // the first call allocates the model's buffers
	short, tall := working(64), working(640)
	t.Logf("live heap besides the input: %d bytes for 64×64, %d bytes for 64×640", short, tall)
	// The 128×1280 output of the tall image is 640 KiB as 8-bit RGBA and
	// 1.9 MiB as float32.
	const slack = 64 << 10
	if tall > short+slack {
		t.Errorf("live heap besides the input: %d bytes for 64×640, want at most %d (64×64 used %d)", tall, short+slack, short)
	}
}

func TestUpscaleToStopsOnCancel(t *testing.T) {
	u := defaultUpscaler(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	patches := 0
	opts := &upscaler.Options{PatchSize: 16, Padding: 0, Progress: func(upscaler.Progress) {
		if patches++; patches == 4 {
			cancel()
		}
	}}
	var buf bytes.Buffer
	err := u.UpscaleTo(ctx, &buf, pattern(64, 64), upscaler.PNG, 0, opts)
	if !errors.Is(err, upscaler.ErrAborted) {
		t.Errorf("UpscaleTo after cancel: error %v, want ErrAborted", err)
	}
	if _, err := png.Decode(&buf); err == nil {
		t.Errorf("UpscaleTo wrote a complete PNG although it was cancelled after patch 4 of 16")
	}
}

func TestUpscaleToRejectsBadArguments(t *testing.T) {
	u := defaultUpscaler(t)
	for _, tc := range []struct {
		format  upscaler.Format
		quality int
	}{{"gif", 0}, {upscaler.WebP, 150}, {upscaler.JPEG, -1}} {
		patches := 0
		opts := &upscaler.Options{PatchSize: 16, Progress: func(upscaler.Progress) { patches++ }}
		err := u.UpscaleTo(context.Background(), io.Discard, pattern(32, 32), tc.format, tc.quality, opts)
		if !errors.Is(err, upscaler.ErrOptions) {
			t.Errorf("UpscaleTo(format %q, quality %d): error %v, want ErrOptions", tc.format, tc.quality, err)
		}
		if patches != 0 {
			t.Errorf("UpscaleTo(format %q, quality %d) ran %d patches before failing, want none", tc.format, tc.quality, patches)
		}
	}
}
