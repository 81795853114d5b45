package main

import (
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/upscaler-go/upscaler/internal/testfiles"
)

// fakeRegistry serves npm package metadata and tarballs on loopback, from
// real package tarballs, keyed by package name.
type fakeRegistry struct {
	tarballs map[string]string // package name → tarball path
	versions map[string]string // package name → version
	// badIntegrity publishes the digest of other bytes than the tarball.
	badIntegrity bool
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A tarball is requested as /-/<file>.
	if file, ok := strings.CutPrefix(r.URL.Path, "/-/"); ok {
		for _, p := range f.tarballs {
			if filepath.Base(p) == file {
				http.ServeFile(w, r, p)
				return
			}
		}
		http.NotFound(w, r)
		return
	}

	// Metadata is requested as /@scope%2fname, which the server decodes.
	name := strings.TrimPrefix(r.URL.Path, "/")
	path, ok := f.tarballs[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if f.badIntegrity {
		data = append(data, 0)
	}

	sum := sha512.Sum512(data)
	version := f.versions[name]
	doc := map[string]any{
		"name":      name,
		"dist-tags": map[string]string{"latest": version},
		"versions": map[string]any{version: map[string]any{
			"name": name, "version": version,
			"dist": map[string]string{
				"tarball":   "http://" + r.Host + "/-/" + filepath.Base(path),
				"integrity": "sha512-" + base64.StdEncoding.EncodeToString(sum[:]),
			},
		}},
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(doc)
}

// startRegistry serves the default model and the pixel upsampler packages.
func startRegistry(t *testing.T, badIntegrity bool) string {
	t.Helper()
	reg := &fakeRegistry{
		tarballs: map[string]string{
			"@upscalerjs/default-model":   testfiles.Package(t, testfiles.DefaultModel),
			"@upscalerjs/pixel-upsampler": testfiles.Package(t, testfiles.PixelUpsampler),
		},
		versions: map[string]string{
			"@upscalerjs/default-model":   "1.0.0",
			"@upscalerjs/pixel-upsampler": "1.0.0-beta.11",
		},
		badIntegrity: badIntegrity,
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	return srv.URL
}

// columnGap separates the columns of the models list table.
var columnGap = regexp.MustCompile(`\s{2,}`)

// listRow returns the cells of the models list table row of name.
func listRow(t *testing.T, table, name string) []string {
	t.Helper()
	for line := range strings.SplitSeq(table, "\n") {
		if fields := columnGap.Split(line, -1); len(fields) > 0 && fields[0] == name {
			return fields
		}
	}
	t.Fatalf("models list has no row for %s:\n%s", name, table)
	return nil
}

func TestModelsPullThenList(t *testing.T) {
	url := startRegistry(t, false)
	c := newCLI(t)

	before := listRow(t, c.mustRun("models", "list").stdout, "default-model")
	if before[5] != "built in" {
		t.Errorf("cached column of default-model before pull = %q, want \"built in\"", before[5])
	}

	r := c.mustRun("models", "pull", "--registry", url, "default-model")
	dir := filepath.Join(c.cache(), "upscalerjs-default-model@1.0.0")
	if !strings.Contains(r.stdout, "pulled default-model (@upscalerjs/default-model@1.0.0) into "+dir) {
		t.Errorf("stdout = %q, want it to name the package and %s", r.stdout, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
		t.Errorf("package.json in the cache after pull: %v", err)
	}
	if !strings.Contains(r.stderr, "downloading @upscalerjs/default-model@1.0.0") {
		t.Errorf("stderr = %q, want a download line", r.stderr)
	}

	after := listRow(t, c.mustRun("models", "list").stdout, "default-model")
	if after[5] != "yes" {
		t.Errorf("cached column of default-model after pull = %q, want yes (row %q)", after[5], after)
	}
	if after[3] != "222.1k" {
		t.Errorf("parameters of default-model = %q, want 222.1k", after[3])
	}

	r = c.mustRun("models", "pull", "--registry", url, "default-model:2x")
	if !strings.Contains(r.stdout, "already in the model cache") {
		t.Errorf("second pull: stdout = %q, want it to say the model is already cached", r.stdout)
	}
}

func TestModelsPullErrors(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name     string
		registry string
		model    string
		code     int
		want     string
	}{
		{"wrong integrity", startRegistry(t, true), "default-model", 1, "digest"},
		{"unknown model", startRegistry(t, false), "esrgan-huge", 2, `unknown model "esrgan-huge"`},
		{"not in registry", startRegistry(t, false), "esrgan-slim", 1, "@upscalerjs/esrgan-slim"},
		{"unreachable registry", closed.URL, "default-model", 1, "unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCLI(t)

			r := c.run("models", "pull", "--registry", tt.registry, tt.model)

			if r.code != tt.code {
				t.Errorf("exit status = %d, want %d\nstderr:\n%s", r.code, tt.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", r.stderr, tt.want)
			}
			if row := listRow(t, c.mustRun("models", "list").stdout, "default-model"); row[5] == "yes" {
				t.Errorf("default-model is listed as cached after a failed pull")
			}
			entries, _ := os.ReadDir(c.cache())
			for _, e := range entries {
				if !strings.HasPrefix(e.Name(), ".") {
					t.Errorf("cache holds %s after a failed pull", e.Name())
				}
			}
		})
	}
}

func TestUpscalePullFromRegistry(t *testing.T) {
	url := startRegistry(t, false)
	c := newCLI(t)
	src := testImage(8, 6, false)
	c.writePNG("in.png", src)

	r := c.run("upscale", "-m", "pixel-upsampler:3x", "in.png")
	if r.code != 1 || !strings.Contains(r.stderr, "upscaler models pull pixel-upsampler") {
		t.Fatalf("upscale of an uncached model: exit status %d, stderr %q; want 1 and the pull command", r.code, r.stderr)
	}

	c.mustRun("upscale", "--pull", "--registry", url, "-m", "pixel-upsampler:3x", "in.png")

	got, _ := decodeFile(t, c.path("in@3x.png"))
	if got.Bounds().Dx() != 24 || got.Bounds().Dy() != 18 {
		t.Fatalf("output size = %v, want 24x18", got.Bounds().Size())
	}
	// The pixel upsampler repeats each pixel.
	for _, p := range [][2]int{{0, 0}, {5, 4}, {23, 17}} {
		r, g, b, _ := got.At(p[0], p[1]).RGBA()
		want := src.NRGBAAt(p[0]/3, p[1]/3)
		if uint8(r>>8) != want.R || uint8(g>>8) != want.G || uint8(b>>8) != want.B {
			t.Errorf("pixel %v = %d,%d,%d, want %d,%d,%d", p, r>>8, g>>8, b>>8, want.R, want.G, want.B)
		}
	}
	if _, err := os.Stat(filepath.Join(c.cache(), "upscalerjs-pixel-upsampler@1.0.0-beta.11", "package.json")); err != nil {
		t.Errorf("package after upscale --pull: %v", err)
	}
}

func TestModelsImport(t *testing.T) {
	c := newCLI(t)
	c.writePNG("in.png", testImage(8, 6, false))

	r := c.mustRun("models", "import", testfiles.Package(t, testfiles.PixelUpsampler))

	if !strings.Contains(r.stdout, "imported @upscalerjs/pixel-upsampler@1.0.0-beta.11") || !strings.Contains(r.stdout, "-m pixel-upsampler") {
		t.Errorf("stdout = %q, want the package and how to use it", r.stdout)
	}
	if row := listRow(t, c.mustRun("models", "list").stdout, "pixel-upsampler"); row[5] != "yes" || row[3] != "0" {
		t.Errorf("pixel-upsampler row after import = %q, want 0 parameters and cached yes", row)
	}
	c.mustRun("upscale", "-m", "pixel-upsampler", "-s", "4", "in.png")
	if img, _ := decodeFile(t, c.path("in@4x.png")); img.Bounds().Dx() != 32 {
		t.Errorf("width after upscale with the imported model = %d, want 32", img.Bounds().Dx())
	}

	bad := c.writeFile("bad.tgz", []byte("not a tarball"))
	r = c.run("models", "import", bad)
	if r.code != 1 || !strings.Contains(r.stderr, "bad.tgz") {
		t.Errorf("import of a bad tarball: exit status %d, stderr %q; want 1 and the file name", r.code, r.stderr)
	}
}

func TestModelsListJSON(t *testing.T) {
	c := newCLI(t)

	r := c.mustRun("models", "list", "--json")

	var rows []modelInfo
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("models list --json: %v\n%s", err, r.stdout)
	}
	byName := map[string]modelInfo{}
	for _, m := range rows {
		byName[m.Name] = m
	}
	if len(rows) != 8 {
		t.Errorf("models list --json has %d models, want 8", len(rows))
	}
	d := byName["default-model"]
	if !d.Embedded || d.Cached || d.Parameters == nil || *d.Parameters != 222_075 || d.DownloadBytes != 1_013_889 {
		t.Errorf("default-model = %+v, want embedded, not cached, with parameters and size", d)
	}
	thick := byName["esrgan-thick"]
	if thick.Cached || thick.Parameters != nil || len(thick.Scales) != 4 || thick.Architecture != "rrdn" {
		t.Errorf("esrgan-thick = %+v, want uncached, no parameters, 4 scales, rrdn", thick)
	}
}
