package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/upscaler-go/upscaler/internal/testfiles"
	"github.com/upscaler-go/upscaler/models"
)

const (
	testName    = "@upscalerjs-test/tiny-model"
	testVersion = "1.2.3"
)

func TestPullSyntheticPackage(t *testing.T) {
	reg := newFakeRegistry(t)
	tgz := testPackage(t, testName, testVersion)
	reg.publish(testName, testVersion, published{tgz: tgz})
	c := reg.client(t)

	var calls int
	var lastDone, lastTotal int64
	dir, err := c.Pull(t.Context(), testName, testVersion, func(done, total int64) {
		calls++
		if done < lastDone {
			t.Errorf("progress went back from %d to %d bytes", lastDone, done)
		}
		lastDone, lastTotal = done, total
	})
	if err != nil {
		t.Fatalf("Pull(%s, %s) error: %v", testName, testVersion, err)
	}
	if want := filepath.Join(c.CacheDir, "upscalerjs-test-tiny-model@1.2.3"); dir != want {
		t.Errorf("Pull(%s, %s) = %s, want %s", testName, testVersion, dir, want)
	}
	if got := c.Dir(testName, testVersion); got != dir {
		t.Errorf("Dir(%s, %s) = %s, want the folder Pull returned, %s", testName, testVersion, got, dir)
	}
	if calls == 0 || lastDone != int64(len(tgz)) || lastTotal != int64(len(tgz)) {
		t.Errorf("last of %d progress calls = (%d, %d), want (%d, %d)", calls, lastDone, lastTotal, len(tgz), len(tgz))
	}
	if !c.Cached(testName, testVersion) {
		t.Errorf("Cached(%s, %s) = false after Pull, want true", testName, testVersion)
	}

	// The kept files are there with their content; dist/ is not.
	for name, want := range map[string]string{
		"package.json":                   packageJSONBody(testName, testVersion),
		"README.md":                      "# test package\n",
		"LICENSE":                        "MIT\n",
		"models/x2/model.json":           testModelJSON,
		"models/x2/group1-shard1of1.bin": testShard,
		"assets/fixture.png":             "\x89PNG\r\n\x1a\n",
	} {
		if got := readFile(t, dir, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "dist")); !os.IsNotExist(err) {
		t.Errorf("stat dist/ after Pull: %v, want not exist", err)
	}
	if names := cacheEntries(t, c.CacheDir); !slices.Equal(names, []string{filepath.Base(dir)}) {
		t.Errorf("cache holds %q, want only %q", names, filepath.Base(dir))
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("stat %s = %v, %v, want mode 0755", dir, st.Mode(), err)
	}
}

func TestPullRequestsAbbreviatedMetadata(t *testing.T) {
	reg := newFakeRegistry(t)
	reg.publish(testName, testVersion, published{tgz: testPackage(t, testName, testVersion)})
	if _, err := reg.client(t).Pull(t.Context(), testName, testVersion, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := reg.lastPath.Load(), "/@upscalerjs-test%2ftiny-model"; got != want {
		t.Errorf("metadata request path = %v, want %v", got, want)
	}
	if got, _ := reg.lastAccept.Load().(string); !strings.HasPrefix(got, "application/vnd.npm.install-v1+json") {
		t.Errorf("metadata request Accept = %q, want the abbreviated metadata type first", got)
	}
}

// TestPullDefaultModel serves the real @upscalerjs/default-model tarball
// and loads the model from the cache.
func TestPullDefaultModel(t *testing.T) {
	tgz, err := os.ReadFile(testfiles.Package(t, testfiles.DefaultModel))
	if err != nil {
		t.Fatal(err)
	}
	const name, version = "@upscalerjs/default-model", "1.0.0"
	reg := newFakeRegistry(t)
	reg.publish(name, version, published{tgz: tgz})
	c := reg.client(t)

	dir, err := c.Pull(t.Context(), name, version, nil)
	if err != nil {
		t.Fatalf("Pull(%s, %s) error: %v", name, version, err)
	}
	def, err := models.FromPackage(dir, "", 0)
	if err != nil {
		t.Fatalf("models.FromPackage(%s) error: %v", dir, err)
	}
	if def.Scale != 2 {
		t.Errorf("models.FromPackage(%s).Scale = %d, want 2", dir, def.Scale)
	}
	m, err := def.Load()
	if err != nil {
		t.Fatalf("Load of the pulled default model: %v", err)
	}
	if m.Params == 0 {
		t.Errorf("pulled default model has %d parameters, want some", m.Params)
	}
	for _, name := range []string{"LICENSE", "README.md", "assets/fixture.png", "models/group1-shard1of1.bin"} {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			t.Errorf("pulled package lacks %s: %v", name, err)
		}
	}
}

func TestPullCached(t *testing.T) {
	reg := newFakeRegistry(t)
	reg.publish(testName, testVersion, published{tgz: testPackage(t, testName, testVersion)})
	c := reg.client(t)
	first, err := c.Pull(t.Context(), testName, testVersion, nil)
	if err != nil {
		t.Fatal(err)
	}
	meta, tarballs := reg.metadataRequests.Load(), reg.tarballRequests.Load()
	if meta != 1 || tarballs != 1 {
		t.Errorf("first Pull made %d metadata and %d tarball requests, want 1 and 1", meta, tarballs)
	}

	second, err := c.Pull(t.Context(), testName, testVersion, func(done, total int64) {
		t.Errorf("progress(%d, %d) called for a cached package", done, total)
	})
	if err != nil {
		t.Fatalf("second Pull error: %v", err)
	}
	if second != first {
		t.Errorf("second Pull = %s, want %s", second, first)
	}
	if got := reg.metadataRequests.Load() + reg.tarballRequests.Load(); got != meta+tarballs {
		t.Errorf("second Pull made %d requests, want none", got-meta-tarballs)
	}
}

// TestPullDigests checks which published digest Pull verifies.
func TestPullDigests(t *testing.T) {
	tgz := testPackage(t, testName, testVersion)
	other := []byte("some other tarball")
	tests := []struct {
		name    string
		dist    func(tarball string) map[string]any
		wantErr error // nil with fail: any error
		fail    bool
	}{
		{"integrity", func(u string) map[string]any {
			return map[string]any{"tarball": u, "integrity": integrityOf(tgz)}
		}, nil, false},
		{"integrity with sha1 too", func(u string) map[string]any {
			return map[string]any{"tarball": u, "integrity": integrityOf(tgz) + " sha1-" + "AAAAAAAAAAAAAAAAAAAAAAAAAAA="}
		}, nil, false},
		{"wrong integrity", func(u string) map[string]any {
			return map[string]any{"tarball": u, "integrity": integrityOf(other), "shasum": shasumOf(tgz)}
		}, ErrIntegrity, true},
		{"shasum without integrity", func(u string) map[string]any {
			return map[string]any{"tarball": u, "shasum": shasumOf(tgz)}
		}, nil, false},
		{"wrong shasum without integrity", func(u string) map[string]any {
			return map[string]any{"tarball": u, "shasum": shasumOf(other)}
		}, ErrIntegrity, true},
		{"no digest", func(u string) map[string]any {
			return map[string]any{"tarball": u}
		}, nil, true},
		{"malformed integrity", func(u string) map[string]any {
			return map[string]any{"tarball": u, "integrity": "sha512-not*base64"}
		}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := newFakeRegistry(t)
			reg.publish(testName, testVersion, published{tgz: tgz, dist: tt.dist(reg.tarballURL(testName, testVersion))})
			c := reg.client(t)
			_, err := c.Pull(t.Context(), testName, testVersion, nil)
			wantFail := tt.fail
			switch {
			case !wantFail && err != nil:
				t.Fatalf("Pull error: %v", err)
			case wantFail && err == nil:
				t.Fatalf("Pull succeeded, want an error")
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("Pull error = %v, want %v", err, tt.wantErr)
			}
			if wantFail {
				checkCacheEmpty(t, c.CacheDir)
				return
			}
			if !c.Cached(testName, testVersion) {
				t.Errorf("Cached = false after a successful Pull")
			}
		})
	}
}

func TestPullIntegrityErrorNamesBothDigests(t *testing.T) {
	tgz := testPackage(t, testName, testVersion)
	wrong := integrityOf([]byte("x"))
	reg := newFakeRegistry(t)
	reg.publish(testName, testVersion, published{tgz: tgz, dist: map[string]any{
		"tarball": reg.tarballURL(testName, testVersion), "integrity": wrong}})
	c := reg.client(t)
	_, err := c.Pull(t.Context(), testName, testVersion, nil)
	if !errors.Is(err, ErrIntegrity) {
		t.Fatalf("Pull error = %v, want ErrIntegrity", err)
	}
	for _, d := range []string{wrong, integrityOf(tgz)} {
		if !strings.Contains(err.Error(), d) {
			t.Errorf("Pull error %q does not name digest %s", err, d)
		}
	}
	checkCacheEmpty(t, c.CacheDir)
}

// TestPullBadTarball serves tarballs with a matching digest but unsafe or
// wrong content.
func TestPullBadTarball(t *testing.T) {
	good := testPackageEntries(testName, testVersion)
	with := func(extra ...tarEntry) []tarEntry {
		return append(slices.Clone(good), extra...)
	}
	tests := []struct {
		name    string
		entries []tarEntry
		raw     []byte // instead of entries
	}{
		{"dot-dot entry", with(tarEntry{name: "package/../../evil.txt", body: "x"}), nil},
		{"dot-dot inside models", with(tarEntry{name: "package/models/../models/x2/extra.bin", body: "x"}), nil},
		{"dot-dot with backslashes", with(tarEntry{name: `package\..\..\evil.txt`, body: "x"}), nil},
		{"absolute entry", with(tarEntry{name: "/etc/evil", body: "x"}), nil},
		{"symlink entry", with(tarEntry{name: "package/models/x2/link.bin", typeflag: tar.TypeSymlink, link: "/etc/passwd"}), nil},
		{"symlink in dropped folder", with(tarEntry{name: "package/dist/link", typeflag: tar.TypeSymlink, link: "../../.."}), nil},
		{"hard link entry", with(tarEntry{name: "package/models/x2/hard.bin", typeflag: tar.TypeLink, link: "package/package.json"}), nil},
		{"device entry", with(tarEntry{name: "package/models/x2/dev", typeflag: tar.TypeChar}), nil},
		{"fifo entry", with(tarEntry{name: "package/models/x2/fifo", typeflag: tar.TypeFifo}), nil},
		{"oversize entry", with(tarEntry{name: "package/models/x2/huge.bin", size: 1 << 40}), nil},
		{"entry just over file limit", with(tarEntry{name: "package/models/x2/big.bin", size: MaxFileBytes + 1}), nil},
		{"truncated entry", with(tarEntry{name: "package/models/x2/short.bin", size: 1000}), nil},
		{"duplicate entry", with(tarEntry{name: "package/models/x2/model.json", body: "{}"}), nil},
		{"file where a folder goes", with(tarEntry{name: "package/models/x3", body: "x"},
			tarEntry{name: "package/models/x3/model.json", body: "{}"}), nil},
		{"too many entries", func() []tarEntry {
			e := slices.Clone(good)
			for i := range MaxEntries {
				e = append(e, tarEntry{name: "package/dist/f" + strconv.Itoa(i), typeflag: tar.TypeDir})
			}
			return e
		}(), nil},
		{"other package name", func() []tarEntry {
			e := slices.Clone(good)
			e[1].body = packageJSONBody("@upscalerjs/esrgan-thick", testVersion)
			return e
		}(), nil},
		{"other package version", func() []tarEntry {
			e := slices.Clone(good)
			e[1].body = packageJSONBody(testName, "1.2.4")
			return e
		}(), nil},
		{"no package.json", slices.Delete(slices.Clone(good), 1, 2), nil},
		{"package.json not JSON", func() []tarEntry {
			e := slices.Clone(good)
			e[1].body = "name: tiny"
			return e
		}(), nil},
		{"not gzip", nil, []byte("<html>this is not a tarball</html>")},
		{"empty file", nil, []byte{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tgz := tt.raw
			if tt.raw == nil {
				tgz = buildTarball(t, tt.entries...)
			}
			reg := newFakeRegistry(t)
			reg.publish(testName, testVersion, published{tgz: tgz})
			c := reg.client(t)
			_, err := c.Pull(t.Context(), testName, testVersion, nil)
			if !errors.Is(err, ErrInvalidPackage) {
				t.Fatalf("Pull error = %v, want ErrInvalidPackage", err)
			}
			checkCacheEmpty(t, c.CacheDir)
			if _, err := os.Stat(filepath.Join(filepath.Dir(c.CacheDir), "evil.txt")); err == nil {
				t.Errorf("an entry was written outside the cache")
			}
		})
	}
}

func TestPullHTTPErrors(t *testing.T) {
	tgz := testPackage(t, testName, testVersion)
	tests := []struct {
		name     string
		pkg      string
		version  string
		metadata http.HandlerFunc // nil: the fake registry's
		tarball  func(w http.ResponseWriter, r *http.Request, tgz []byte)
		check    func(t *testing.T, err error)
	}{
		{name: "unknown package", pkg: "@upscalerjs-test/missing", version: testVersion,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("Pull error = %v, want ErrNotFound", err)
				}
			}},
		{name: "unknown version", pkg: testName, version: "9.9.9",
			check: func(t *testing.T, err error) {
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("Pull error = %v, want ErrNotFound", err)
				}
				if err != nil && !strings.Contains(err.Error(), "0.9.0-beta.2, 0.9.0, "+testVersion) {
					t.Errorf("Pull error %q does not list the versions in order", err)
				}
			}},
		{name: "metadata status 500", pkg: testName, version: testVersion,
			metadata: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "database on fire", http.StatusInternalServerError)
			},
			check: func(t *testing.T, err error) {
				var se *StatusError
				if !errors.As(err, &se) || se.StatusCode != 500 {
					t.Errorf("Pull error = %v, want a StatusError with code 500", err)
				}
			}},
		{name: "invalid metadata JSON", pkg: testName, version: testVersion,
			metadata: func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, `{"name": "x", "versions": {`)
			},
			check: func(t *testing.T, err error) {
				var se *json.SyntaxError
				if !errors.As(err, &se) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("Pull error = %v, want a JSON syntax error", err)
				}
			}},
		{name: "metadata JSON of wrong shape", pkg: testName, version: testVersion,
			metadata: func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, `{"name": "x", "versions": ["1.2.3"]}`)
			},
			check: func(t *testing.T, err error) {
				var je *json.UnmarshalTypeError
				if !errors.As(err, &je) {
					t.Errorf("Pull error = %v, want a *json.UnmarshalTypeError", err)
				}
			}},
		{name: "metadata without versions", pkg: testName, version: testVersion,
			metadata: func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, `{"error": "proxy login page"}`)
			},
			check: func(t *testing.T, err error) {
				if err == nil {
					t.Errorf("Pull succeeded on metadata without versions, want an error")
				}
			}},
		{name: "tarball status 500", pkg: testName, version: testVersion,
			tarball: func(w http.ResponseWriter, r *http.Request, tgz []byte) {
				http.Error(w, "oops", http.StatusInternalServerError)
			},
			check: func(t *testing.T, err error) {
				var se *StatusError
				if !errors.As(err, &se) || se.StatusCode != 500 {
					t.Errorf("Pull error = %v, want a StatusError with code 500", err)
				}
			}},
		{name: "truncated download", pkg: testName, version: testVersion,
			tarball: func(w http.ResponseWriter, r *http.Request, tgz []byte) {
				w.Header().Set("Content-Length", strconv.Itoa(len(tgz)))
				w.Write(tgz[:len(tgz)/2])
			},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("Pull error = %v, want io.ErrUnexpectedEOF", err)
				}
			}},
		{name: "tarball over the size limit", pkg: testName, version: testVersion,
			tarball: func(w http.ResponseWriter, r *http.Request, tgz []byte) {
				// Only the header: the client must give up before reading.
				w.Header().Set("Content-Length", strconv.FormatInt(MaxTarballBytes+1, 10))
				w.WriteHeader(http.StatusOK)
			},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, ErrInvalidPackage) {
					t.Errorf("Pull error = %v, want ErrInvalidPackage", err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := newFakeRegistry(t)
			reg.publish(testName, testVersion, published{tgz: tgz})
			reg.publish(testName, "0.9.0", published{tgz: tgz})
			reg.publish(testName, "0.9.0-beta.2", published{tgz: tgz})
			reg.setServeTarball(tt.tarball)
			c := reg.client(t)
			if tt.metadata != nil {
				srv := httptest.NewServer(tt.metadata)
				defer srv.Close()
				c.Registry = srv.URL
			}
			_, err := c.Pull(t.Context(), tt.pkg, tt.version, nil)
			if err == nil {
				t.Fatalf("Pull(%s, %s) succeeded, want an error", tt.pkg, tt.version)
			}
			tt.check(t, err)
			checkCacheEmpty(t, c.CacheDir)
		})
	}
}

func TestPullInvalidArguments(t *testing.T) {
	reg := newFakeRegistry(t)
	tests := []struct{ pkg, version string }{
		{"", "1.0.0"},
		{"../../etc", "1.0.0"},
		{"@upscalerjs/../x", "1.0.0"},
		{"@upscalerjs/esrgan-slim/x", "1.0.0"},
		{"UpperCase", "1.0.0"},
		{"@upscalerjs/esrgan-slim", ""},
		{"@upscalerjs/esrgan-slim", "latest"},
		{"@upscalerjs/esrgan-slim", "^1.0.0"},
		{"@upscalerjs/esrgan-slim", "1.0.0/../../x"},
	}
	for _, tt := range tests {
		t.Run(tt.pkg+"@"+tt.version, func(t *testing.T) {
			c := reg.client(t)
			if _, err := c.Pull(t.Context(), tt.pkg, tt.version, nil); err == nil {
				t.Errorf("Pull(%q, %q) succeeded, want an error", tt.pkg, tt.version)
			}
			if c.Cached(tt.pkg, tt.version) {
				t.Errorf("Cached(%q, %q) = true, want false", tt.pkg, tt.version)
			}
			checkCacheEmpty(t, c.CacheDir)
		})
	}
	if n := reg.metadataRequests.Load() + reg.tarballRequests.Load(); n != 0 {
		t.Errorf("invalid arguments caused %d requests, want none", n)
	}
}

func TestPullUnreachable(t *testing.T) {
	// A loopback port that was just closed refuses connections.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String() + "/"
	l.Close()

	c := &Client{Registry: addr, CacheDir: t.TempDir()}
	_, err = c.Pull(t.Context(), testName, testVersion, nil)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Pull from a closed port error = %v, want ErrUnreachable", err)
	}
	for _, want := range []string{addr, "NPM_CONFIG_REGISTRY", "HTTPS_PROXY"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Pull error %q does not mention %s", err, want)
		}
	}
	checkCacheEmpty(t, c.CacheDir)
}

// stallingServer serves half of tgz, then sends nothing until the client
// goes away.
func stallingServer(w http.ResponseWriter, r *http.Request, tgz []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(tgz)))
	w.Write(tgz[:len(tgz)/2])
	w.(http.Flusher).Flush()
	<-r.Context().Done()
}

func TestPullCancelledMidDownload(t *testing.T) {
	reg := newFakeRegistry(t)
	reg.publish(testName, testVersion, published{tgz: testPackage(t, testName, testVersion)})
	reg.setServeTarball(stallingServer)
	c := reg.client(t)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var once sync.Once
	start := time.Now()
	_, err := c.Pull(ctx, testName, testVersion, func(done, total int64) {
		if done > 0 {
			once.Do(func() { time.AfterFunc(50*time.Millisecond, cancel) })
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Pull error = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Pull took %v to return after cancellation", d)
	}
	checkCacheEmpty(t, c.CacheDir)
}

func TestPullStalledDownload(t *testing.T) {
	reg := newFakeRegistry(t)
	reg.publish(testName, testVersion, published{tgz: testPackage(t, testName, testVersion)})
	reg.setServeTarball(stallingServer)
	c := reg.client(t)
	c.StallTimeout = 200 * time.Millisecond

	_, err := c.Pull(t.Context(), testName, testVersion, nil)
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Pull error = %v, want ErrUnreachable after the stall timeout", err)
	}
	checkCacheEmpty(t, c.CacheDir)
}

// TestPullConcurrent starts several pulls of one package whose downloads
// all finish together, so that their renames race.
func TestPullConcurrent(t *testing.T) {
	const pullers = 8
	tgz := testPackage(t, testName, testVersion)
	reg := newFakeRegistry(t)
	reg.publish(testName, testVersion, published{tgz: tgz})
	var arrived sync.WaitGroup
	arrived.Add(pullers)
	allIn := make(chan struct{})
	go func() { arrived.Wait(); close(allIn) }()
	reg.setServeTarball(func(w http.ResponseWriter, r *http.Request, tgz []byte) {
		arrived.Done()
		select {
		case <-allIn:
		case <-time.After(10 * time.Second):
		}
		w.Write(tgz)
	})
	c := reg.client(t)

	dirs := make([]string, pullers)
	errs := make([]error, pullers)
	var wg sync.WaitGroup
	for i := range pullers {
		wg.Go(func() { dirs[i], errs[i] = c.Pull(t.Context(), testName, testVersion, nil) })
	}
	wg.Wait()
	for i := range pullers {
		if errs[i] != nil {
			t.Errorf("Pull %d error: %v", i, errs[i])
		} else if dirs[i] != c.Dir(testName, testVersion) {
			t.Errorf("Pull %d = %s, want %s", i, dirs[i], c.Dir(testName, testVersion))
		}
	}
	if n := reg.tarballRequests.Load(); n != pullers {
		t.Errorf("%d pulls downloaded %d times, want each to download", pullers, n)
	}
	if names := cacheEntries(t, c.CacheDir); !slices.Equal(names, []string{"upscalerjs-test-tiny-model@1.2.3"}) {
		t.Errorf("cache holds %q after concurrent pulls, want one package folder", names)
	}
	if got := readFile(t, c.Dir(testName, testVersion), "models/x2/group1-shard1of1.bin"); got != testShard {
		t.Errorf("shard after concurrent pulls = %q, want %q", got, testShard)
	}
}

// TestPullConcurrentProcesses runs pulls of one package in several
// processes sharing a cache, their downloads finishing together.
func TestPullConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const processes = 4
	reg := newFakeRegistry(t)
	reg.publish(testName, testVersion, published{tgz: testPackage(t, testName, testVersion)})
	var arrived sync.WaitGroup
	arrived.Add(processes)
	allIn := make(chan struct{})
	go func() { arrived.Wait(); close(allIn) }()
	reg.setServeTarball(func(w http.ResponseWriter, r *http.Request, tgz []byte) {
		arrived.Done()
		select {
		case <-allIn:
		case <-time.After(20 * time.Second):
		}
		w.Write(tgz)
	})
	cache := t.TempDir()

	cmds := make([]*exec.Cmd, processes)
	outputs := make([]bytes.Buffer, processes)
	for i := range cmds {
		cmds[i] = exec.Command(os.Args[0], "-test.run=^TestHelperProcessPull$", "-test.count=1", "-test.v")
		cmds[i].Env = append(os.Environ(), "REGISTRY_TEST_HELPER=1", "REGISTRY_TEST_URL="+reg.srv.URL, "REGISTRY_TEST_CACHE="+cache)
		cmds[i].Stdout, cmds[i].Stderr = &outputs[i], &outputs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("pull in process %d failed: %v\n%s", i, err, outputs[i].String())
		}
	}
	if n := reg.tarballRequests.Load(); n != processes {
		t.Errorf("%d processes downloaded %d times, want each to download", processes, n)
	}
	if names := cacheEntries(t, cache); !slices.Equal(names, []string{"upscalerjs-test-tiny-model@1.2.3"}) {
		t.Errorf("cache holds %q after concurrent pulls, want one package folder", names)
	}
	c := &Client{CacheDir: cache}
	if got := readFile(t, c.Dir(testName, testVersion), "models/x2/model.json"); got != testModelJSON {
		t.Errorf("model.json after concurrent pulls = %q, want %q", got, testModelJSON)
	}
}

// TestHelperProcessPull is the pull that TestPullConcurrentProcesses runs
// in each process.
func TestHelperProcessPull(t *testing.T) {
	if os.Getenv("REGISTRY_TEST_HELPER") != "1" {
		t.Skip("runs only inside TestPullConcurrentProcesses")
	}
	c := &Client{Registry: os.Getenv("REGISTRY_TEST_URL"), CacheDir: os.Getenv("REGISTRY_TEST_CACHE")}
	if _, err := c.Pull(t.Context(), testName, testVersion, nil); err != nil {
		t.Fatal(err)
	}
}

func TestPullRegistryFromEnvironment(t *testing.T) {
	for _, variable := range []string{"NPM_CONFIG_REGISTRY", "npm_config_registry"} {
		t.Run(variable, func(t *testing.T) {
			reg := newFakeRegistry(t)
			reg.publish(testName, testVersion, published{tgz: testPackage(t, testName, testVersion)})
			t.Setenv("NPM_CONFIG_REGISTRY", "")
			t.Setenv("npm_config_registry", "")
			t.Setenv(variable, reg.srv.URL+"/")
			c := &Client{CacheDir: t.TempDir()}
			if _, err := c.Pull(t.Context(), testName, testVersion, nil); err != nil {
				t.Fatalf("Pull with %s=%s error: %v", variable, reg.srv.URL, err)
			}
			if n := reg.metadataRequests.Load(); n != 1 {
				t.Errorf("registry from %s got %d metadata requests, want 1", variable, n)
			}
		})
	}
}

func TestPullRemovesStaleTemporaries(t *testing.T) {
	reg := newFakeRegistry(t)
	reg.publish(testName, testVersion, published{tgz: testPackage(t, testName, testVersion)})
	c := reg.client(t)

	// Leftovers of a crashed pull: an old folder and file, and a fresh
	// folder that may belong to a pull still running.
	old := filepath.Join(c.CacheDir, tempPrefix+"upscalerjs-test-tiny-model@1.2.3-1")
	oldFile := filepath.Join(c.CacheDir, tempPrefix+"upscalerjs-test-tiny-model@1.2.3-2.tgz")
	fresh := filepath.Join(c.CacheDir, tempPrefix+"upscalerjs-test-tiny-model@1.2.3-3")
	for _, d := range []string{old, fresh} {
		if err := os.MkdirAll(filepath.Join(d, "models"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "package.json"), []byte(packageJSONBody(testName, testVersion)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(oldFile, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	longAgo := time.Now().Add(-2 * time.Hour)
	for _, p := range []string{old, oldFile} {
		if err := os.Chtimes(p, longAgo, longAgo); err != nil {
			t.Fatal(err)
		}
	}
	if c.Cached(testName, testVersion) {
		t.Fatalf("Cached = true with only temporary folders in the cache, want false")
	}

	if _, err := c.Pull(t.Context(), testName, testVersion, nil); err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Base(fresh), "upscalerjs-test-tiny-model@1.2.3"}
	if names := cacheEntries(t, c.CacheDir); !slices.Equal(names, want) {
		t.Errorf("cache after Pull holds %q, want %q", names, want)
	}
}

func TestPullExistingForeignFolder(t *testing.T) {
	reg := newFakeRegistry(t)
	reg.publish(testName, testVersion, published{tgz: testPackage(t, testName, testVersion)})
	c := reg.client(t)
	dir := c.Dir(testName, testVersion)
	if err := os.MkdirAll(filepath.Join(dir, "junk"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pull(t.Context(), testName, testVersion, nil); err == nil {
		t.Fatalf("Pull over a folder without package.json succeeded, want an error")
	}
	if names := cacheEntries(t, c.CacheDir); !slices.Equal(names, []string{filepath.Base(dir)}) {
		t.Errorf("cache holds %q, want only the existing folder", names)
	}
}

func TestDirMatchesCachePath(t *testing.T) {
	t.Setenv("UPSCALER_CACHE", t.TempDir())
	for _, f := range models.Families() {
		var c Client
		if got, want := c.Dir(f.Package, f.Version), models.CachePath(f.Package, f.Version); got != want {
			t.Errorf("Dir(%s, %s) = %s, want models.CachePath's %s", f.Package, f.Version, got, want)
		}
		custom := Client{CacheDir: models.CacheDir()}
		if got, want := custom.Dir(f.Package, f.Version), models.CachePath(f.Package, f.Version); got != want {
			t.Errorf("Dir(%s, %s) with CacheDir %s = %s, want %s", f.Package, f.Version, custom.CacheDir, got, want)
		}
	}
}

// TestPullDefaultCacheIsFoundByModels pulls into the default cache folder
// (pointed at a temporary folder) and loads the model by name.
func TestPullDefaultCacheIsFoundByModels(t *testing.T) {
	tgz, err := os.ReadFile(testfiles.Package(t, testfiles.PixelUpsampler))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("UPSCALER_CACHE", t.TempDir())
	def, err := models.Lookup("pixel-upsampler", 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := def.Load(); !errors.Is(err, models.ErrNotCached) {
		t.Fatalf("Load before Pull error = %v, want models.ErrNotCached", err)
	}
	reg := newFakeRegistry(t)
	reg.publish(def.Package, def.Version, published{tgz: tgz})
	c := &Client{Registry: reg.srv.URL}
	if _, err := c.Pull(t.Context(), def.Package, def.Version, nil); err != nil {
		t.Fatalf("Pull(%s, %s) error: %v", def.Package, def.Version, err)
	}
	if _, err := def.Load(); err != nil {
		t.Errorf("Load after Pull error: %v", err)
	}
}

func TestImport(t *testing.T) {
	path := testfiles.Package(t, testfiles.DefaultModel)
	c := &Client{CacheDir: t.TempDir()}
	pkg, version, dir, err := c.Import(path)
	if err != nil {
		t.Fatalf("Import(%s) error: %v", path, err)
	}
	if pkg != "@upscalerjs/default-model" || version != "1.0.0" || dir != c.Dir(pkg, version) {
		t.Errorf("Import(%s) = %s, %s, %s, want @upscalerjs/default-model, 1.0.0, %s", path, pkg, version, dir, c.Dir("@upscalerjs/default-model", "1.0.0"))
	}
	def, err := models.FromPackage(dir, "", 0)
	if err != nil {
		t.Fatalf("models.FromPackage(%s) error: %v", dir, err)
	}
	if _, err := def.Load(); err != nil {
		t.Errorf("Load of the imported model: %v", err)
	}

	// A second import keeps the cached copy.
	if _, _, again, err := c.Import(path); err != nil || again != dir {
		t.Errorf("second Import(%s) = %s, %v, want %s, nil", path, again, err, dir)
	}
	if names := cacheEntries(t, c.CacheDir); len(names) != 1 {
		t.Errorf("cache holds %q after two imports, want one folder", names)
	}
}

func TestImportErrors(t *testing.T) {
	files := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(files, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		wantErr error
	}{
		{"missing file", filepath.Join(files, "missing.tgz"), os.ErrNotExist},
		{"folder", files, ErrInvalidPackage},
		{"garbage", write("garbage.tgz", []byte("GIF89a garbage")), ErrInvalidPackage},
		{"non-official package", write("tiny.tgz", testPackage(t, testName, testVersion)), ErrInvalidPackage},
		{"official name at another version", write("slim.tgz", testPackage(t, "@upscalerjs/esrgan-slim", "0.1.0")), ErrInvalidPackage},
		{"invalid name in package.json", write("bad.tgz", testPackage(t, "../../evil", "1.0.0")), ErrInvalidPackage},
		{"dot-dot entry", write("dotdot.tgz", buildTarball(t, append(testPackageEntries("@upscalerjs/esrgan-slim", "1.0.0"),
			tarEntry{name: "package/../x", body: "x"})...)), ErrInvalidPackage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Client{CacheDir: t.TempDir()}
			_, _, _, err := c.Import(tt.path)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Import(%s) error = %v, want %v", tt.path, err, tt.wantErr)
			}
			checkCacheEmpty(t, c.CacheDir)
		})
	}
}
