// Package testfiles finds the UpscalerJS model packages that tests run
// against. They are npm tarballs fetched into testdata/npm at the top of
// the repository by scripts/fetch-testdata, never committed.
package testfiles

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Package file names, as npm pack writes them.
const (
	DefaultModel   = "upscalerjs-default-model-1.0.0.tgz"
	ESRGANSlim     = "upscalerjs-esrgan-slim-1.0.0.tgz"
	ESRGANMedium   = "upscalerjs-esrgan-medium-1.0.0.tgz"
	ESRGANThick    = "upscalerjs-esrgan-thick-1.0.0.tgz"
	ESRGANLegacy   = "upscalerjs-esrgan-legacy-1.0.0.tgz"
	PixelUpsampler = "upscalerjs-pixel-upsampler-1.0.0-beta.11.tgz"
)

// Root returns the repository's top folder.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Package returns the path of a fetched model package. When it is missing
// the test is skipped, or fails if UPSCALER_REQUIRE_TESTDATA=1 (as in CI),
// so a missing download cannot pass silently there.
func Package(tb testing.TB, file string) string {
	tb.Helper()
	p := filepath.Join(Root(), "testdata", "npm", file)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("UPSCALER_REQUIRE_TESTDATA") == "1" {
			tb.Fatalf("model package %s is missing: run scripts/fetch-testdata", p)
		}
		tb.Skipf("model package %s is missing: run scripts/fetch-testdata", p)
	}
	return p
}
