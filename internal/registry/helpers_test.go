package registry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// TestMain points the default registry and cache at places that cannot
// reach the network or the user's cache, in case a test leaves them
// unset.
func TestMain(m *testing.M) {
	cache, err := os.MkdirTemp("", "registry-test-cache-")
	if err != nil {
		panic(err)
	}
	os.Setenv("UPSCALER_CACHE", cache)
	os.Setenv("NPM_CONFIG_REGISTRY", "http://127.0.0.1:9/")
	os.Setenv("npm_config_registry", "http://127.0.0.1:9/")
	code := m.Run()
	os.RemoveAll(cache)
	os.Exit(code)
}

// tarEntry is one entry of a tarball built by a test.
type tarEntry struct {
	name     string
	body     string
	typeflag byte   // tar.TypeReg when zero
	link     string // for links
	size     int64  // header size when not len(body); no data is written then
}

// buildTarball returns a gzipped tarball of entries.
func buildTarball(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	lying := false
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Typeflag: e.typeflag, Linkname: e.link, Size: int64(len(e.body)), Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if e.size != 0 {
			h.Size = e.size
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("tar header %q: %v", e.name, err)
		}
		if e.size != 0 {
			// The header claims more data than follows, so the tarball
			// ends here.
			lying = true
			break
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatalf("tar entry %q: %v", e.name, err)
		}
	}
	if !lying {
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Contents of the synthetic test package.
const (
	testModelJSON = `{"format":"layers-model","modelTopology":{},"weightsManifest":[{"paths":["group1-shard1of1.bin"],"weights":[]}]}`
	testShard     = "\x00\x01\x02\x03weights"
)

func packageJSONBody(name, version string) string {
	b, _ := json.Marshal(map[string]string{"name": name, "version": version, "license": "MIT"})
	return string(b)
}

// testPackageEntries are the entries of a small valid package: the kept
// files, plus a dist/ file and a folder entry that are not kept.
func testPackageEntries(name, version string) []tarEntry {
	return []tarEntry{
		{name: "package/", typeflag: tar.TypeDir},
		{name: "package/package.json", body: packageJSONBody(name, version)},
		{name: "package/README.md", body: "# test package\n"},
		{name: "package/LICENSE", body: "MIT\n"},
		{name: "package/models/x2/model.json", body: testModelJSON},
		{name: "package/models/x2/group1-shard1of1.bin", body: testShard},
		{name: "package/assets/fixture.png", body: "\x89PNG\r\n\x1a\n"},
		{name: "package/dist/index.js", body: "module.exports = {};\n"},
	}
}

func testPackage(t *testing.T, name, version string) []byte {
	t.Helper()
	return buildTarball(t, testPackageEntries(name, version)...)
}

func integrityOf(b []byte) string {
	sum := sha512.Sum512(b)
	return "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
}

func shasumOf(b []byte) string {
	sum := sha1.Sum(b)
	return hex.EncodeToString(sum[:])
}

// published is one version of a package on the fake registry.
type published struct {
	tgz []byte
	// dist overrides the "dist" object; nil means tarball, integrity and
	// shasum computed from tgz.
	dist map[string]any
}

// fakeRegistry is an npm registry on loopback that serves metadata at
// /<name with %2f> and tarballs at /tarballs/<name>/<version>.
type fakeRegistry struct {
	srv *httptest.Server

	mu       sync.Mutex
	packages map[string]map[string]published // guarded by mu

	metadataRequests atomic.Int64
	tarballRequests  atomic.Int64
	lastAccept       atomic.Value // string
	lastPath         atomic.Value // string, escaped

	// serveTarball, if set, replaces the normal tarball response. Guarded
	// by mu.
	serveTarball func(w http.ResponseWriter, r *http.Request, tgz []byte)
}

func newFakeRegistry(t *testing.T) *fakeRegistry {
	t.Helper()
	reg := &fakeRegistry{packages: map[string]map[string]published{}}
	reg.srv = httptest.NewServer(http.HandlerFunc(reg.handle))
	t.Cleanup(reg.srv.Close)
	return reg
}

func (reg *fakeRegistry) publish(name, version string, p published) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if reg.packages[name] == nil {
		reg.packages[name] = map[string]published{}
	}
	reg.packages[name][version] = p
}

// setServeTarball sets serveTarball, which the handler reads under mu.
func (reg *fakeRegistry) setServeTarball(f func(w http.ResponseWriter, r *http.Request, tgz []byte)) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	reg.serveTarball = f
}

func (reg *fakeRegistry) tarballURL(name, version string) string {
	return reg.srv.URL + "/tarballs/" + name + "/" + version
}

func (reg *fakeRegistry) handle(w http.ResponseWriter, r *http.Request) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if rest, ok := strings.CutPrefix(r.URL.Path, "/tarballs/"); ok {
		reg.tarballRequests.Add(1)
		i := strings.LastIndex(rest, "/")
		p, ok := reg.packages[rest[:max(i, 0)]][rest[i+1:]]
		if i < 0 || !ok {
			http.NotFound(w, r)
			return
		}
		if reg.serveTarball != nil {
			serve := reg.serveTarball
			reg.mu.Unlock()
			serve(w, r, p.tgz)
			reg.mu.Lock()
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(p.tgz)
		return
	}

	reg.metadataRequests.Add(1)
	reg.lastAccept.Store(r.Header.Get("Accept"))
	reg.lastPath.Store(r.URL.EscapedPath())
	name := strings.TrimPrefix(r.URL.Path, "/")
	versions, ok := reg.packages[name]
	if !ok {
		http.Error(w, `{"error":"Not found"}`, http.StatusNotFound)
		return
	}
	doc := map[string]any{"name": name, "dist-tags": map[string]string{}}
	vs := map[string]any{}
	for v, p := range versions {
		d := p.dist
		if d == nil {
			d = map[string]any{"tarball": reg.tarballURL(name, v), "integrity": integrityOf(p.tgz), "shasum": shasumOf(p.tgz)}
		}
		vs[v] = map[string]any{"name": name, "version": v, "dist": d}
	}
	doc["versions"] = vs
	w.Header().Set("Content-Type", "application/vnd.npm.install-v1+json")
	json.NewEncoder(w).Encode(doc)
}

// client returns a Client for reg with an empty cache of its own.
func (reg *fakeRegistry) client(t *testing.T) *Client {
	return &Client{Registry: reg.srv.URL, CacheDir: t.TempDir(), HTTP: reg.srv.Client()}
}

// cacheEntries returns the names in the cache folder.
func cacheEntries(t *testing.T, cache string) []string {
	t.Helper()
	entries, err := os.ReadDir(cache)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// checkCacheEmpty fails unless the cache holds nothing, not even
// temporary entries.
func checkCacheEmpty(t *testing.T, cache string) {
	t.Helper()
	if names := cacheEntries(t, cache); len(names) != 0 {
		t.Errorf("cache %s holds %q after a failed pull, want nothing", cache, names)
	}
}

// readFile returns the content of dir/name, or fails the test.
func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
