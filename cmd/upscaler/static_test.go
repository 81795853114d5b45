package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/image/webp"
)

// TestStaticBuild builds the command as the README's static build does and
// checks that the binary needs no dynamic loader and still writes WebP.
func TestStaticBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command a second time")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads the program headers of an ELF binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "upscaler")
	build := exec.Command("go", "build", "-tags", "nodynamic", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags nodynamic: %v\n%s", err, out)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("binary built with -tags nodynamic names a dynamic loader; want a static binary")
		}
	}

	outPath := filepath.Join(dir, "astronaut@2x.webp")
	run := exec.Command(bin, "upscale", filepath.Join("..", "..", "testdata", "astronaut.png"), "-o", outPath)
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("static binary: upscale to WebP: %v\n%s", err, out)
	}
	file, err := os.Open(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	cfg, err := webp.DecodeConfig(file)
	if err != nil {
		t.Fatalf("static binary wrote %s that does not decode as WebP: %v", outPath, err)
	}
	if cfg.Width != 256 || cfg.Height != 256 {
		t.Errorf("static binary wrote a %dx%d WebP, want 256x256", cfg.Width, cfg.Height)
	}
}
