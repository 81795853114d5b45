package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/upscaler-go/upscaler/models"
)

// DefaultRegistry is the registry used when neither Client.Registry nor
// NPM_CONFIG_REGISTRY is set.
const DefaultRegistry = "https://registry.npmjs.org/"

// Limits on what is downloaded and unpacked. The largest official package,
// @upscalerjs/esrgan-thick 1.0.0, is a 110 MB tarball holding 120 MB of
// files in 125 entries, its largest file 4 MiB.
const (
	// MaxTarballBytes is the largest tarball Pull downloads or Import reads.
	MaxTarballBytes int64 = 512 << 20
	// MaxFileBytes is the largest single entry in a tarball.
	MaxFileBytes int64 = 256 << 20
	// MaxUnpackedBytes is the most data in all of a tarball's entries
	// together, including the entries that are not kept.
	MaxUnpackedBytes int64 = 1 << 30
	// MaxEntries is the most entries a tarball may have.
	MaxEntries = 10000
)

// DefaultStallTimeout is how long a download may go without receiving a
// byte before Pull gives up, when Client.StallTimeout is zero.
const DefaultStallTimeout = time.Minute

// Errors for errors.Is. The errors returned wrap them and carry the details.
var (
	// ErrNotFound means the registry has no such package or version.
	ErrNotFound = errors.New("not found in the registry")
	// ErrUnreachable means the registry or the tarball's host could not be
	// contacted, or sent nothing for Client.StallTimeout. A connection that
	// breaks during a download gives the transport's error instead, such
	// as io.ErrUnexpectedEOF.
	ErrUnreachable = errors.New("registry unreachable")
	// ErrIntegrity means the downloaded tarball does not match the digest
	// the registry publishes for it.
	ErrIntegrity = errors.New("tarball digest mismatch")
	// ErrInvalidPackage means a tarball is damaged, unsafe to unpack, too
	// large, or not the package that was requested.
	ErrInvalidPackage = errors.New("invalid package")
)

// StatusError is returned, wrapped, when the registry responds to a request
// with an HTTP status other than 200. A 404 for package metadata gives
// ErrNotFound instead.
type StatusError struct {
	URL        string
	StatusCode int
	Status     string // as in http.Response.Status, "500 Internal Server Error"
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("GET %s: HTTP %s", e.URL, e.Status)
	if e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden {
		msg += "; the registry wants credentials, which this client does not send: use a registry that allows anonymous reads"
	}
	return msg
}

// Client downloads npm packages into the model cache. The zero value is
// ready to use. A Client is safe for concurrent use as long as its fields
// are not changed.
type Client struct {
	// Registry is the registry's base URL; "" means $NPM_CONFIG_REGISTRY
	// (also read as npm_config_registry), else DefaultRegistry.
	Registry string
	// HTTP is the client to use. nil means a shared client that reads proxy
	// settings from HTTPS_PROXY, HTTP_PROXY and NO_PROXY
	// (http.ProxyFromEnvironment). It times out after 30 s when connecting
	// and after 60 s when waiting for response headers. A whole download
	// has no time limit, but StallTimeout ends one that stops.
	HTTP *http.Client
	// CacheDir is the model cache; "" means models.CacheDir().
	CacheDir string
	// StallTimeout ends a download that receives nothing for this long;
	// 0 means DefaultStallTimeout.
	StallTimeout time.Duration
}

// defaultHTTP is shared by every Client without an HTTP field, so that they
// share connections.
var defaultHTTP = sync.OnceValue(func() *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          10,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		ExpectContinueTimeout: time.Second,
	}}
})

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP()
}

// registryURL returns the registry's base URL, ending in "/".
func (c *Client) registryURL() string {
	r := c.Registry
	if r == "" {
		r = os.Getenv("NPM_CONFIG_REGISTRY")
	}
	if r == "" {
		r = os.Getenv("npm_config_registry")
	}
	if r == "" {
		r = DefaultRegistry
	}
	if !strings.HasSuffix(r, "/") {
		r += "/"
	}
	return r
}

func (c *Client) stallTimeout() time.Duration {
	if c.StallTimeout > 0 {
		return c.StallTimeout
	}
	return DefaultStallTimeout
}

func (c *Client) cacheDir() string {
	if c.CacheDir != "" {
		return c.CacheDir
	}
	return models.CacheDir()
}

// Dir returns the cache folder for pkg@version, whether or not it exists.
// With the default CacheDir it equals models.CachePath(pkg, version), where
// models.Definition.Load looks for official packages. The result is only
// meaningful for a valid package name and version (see Pull).
func (c *Client) Dir(pkg, version string) string {
	if c.CacheDir == "" {
		return models.CachePath(pkg, version)
	}
	return filepath.Join(c.CacheDir, entryName(pkg, version))
}

// entryName returns the name of pkg@version's folder in the cache, as
// models.CachePath forms it: "@upscalerjs/esrgan-slim" 1.0.0 becomes
// "upscalerjs-esrgan-slim@1.0.0".
func entryName(pkg, version string) string {
	return strings.ReplaceAll(strings.TrimPrefix(pkg, "@"), "/", "-") + "@" + version
}

// Cached reports whether pkg@version is in the cache: its folder exists and
// contains a package.json with that name and version.
func (c *Client) Cached(pkg, version string) bool {
	if checkPackage(pkg, version) != nil {
		return false
	}
	meta, err := readPackageJSON(c.Dir(pkg, version))
	return err == nil && meta.Name == pkg && meta.Version == version
}

// Pull downloads pkg@version (for example "@upscalerjs/esrgan-thick",
// "1.0.0") unless it is already cached, and returns the cache folder
// containing the unpacked package, with package.json at its top.
//
// Pull reads the package's metadata from the registry, downloads the
// tarball it names and checks it against the published integrity digest
// (SHA-512, or the strongest SRI algorithm listed). Only when the registry
// publishes no integrity string does Pull fall back to the SHA-1 shasum.
// It then unpacks package.json, LICENSE*, README*, models/ and assets/
// (see the package documentation for the checks) and moves the folder into
// place in one rename, so the cache never contains a partial package. When
// several pulls of the same package race, every one succeeds and the
// first to finish provides the folder.
//
// version must be an exact version, not a range or dist-tag. progress, if
// not nil, is called from Pull's goroutine with the bytes received so far
// and the tarball's size (-1 if the server does not send it). Cancelling
// ctx stops the download, and the error then wraps context.Cause(ctx).
func (c *Client) Pull(ctx context.Context, pkg, version string, progress func(done, total int64)) (dir string, err error) {
	if err := checkPackage(pkg, version); err != nil {
		return "", err
	}
	dir = c.Dir(pkg, version)
	if c.Cached(pkg, version) {
		return dir, nil
	}
	cache := filepath.Dir(dir)
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", fmt.Errorf("registry: create model cache: %w", err)
	}
	removeStale(cache, time.Now())

	// Find the tarball and its digest.
	dist, err := c.resolve(ctx, pkg, version)
	if err != nil {
		return "", err
	}

	// Download it into the cache folder, checking the digest on the way.
	tgz, err := c.download(ctx, pkg, version, dist, cache, progress)
	if err != nil {
		return "", err
	}
	defer os.Remove(tgz)

	// Unpack it and move it into place.
	_, _, dir, err = install(cache, tgz, pkg, version, c.Dir)
	if err != nil {
		return "", fmt.Errorf("registry: %s@%s from %s: %w", pkg, version, dist.Tarball, err)
	}
	return dir, nil
}

// Import unpacks a local package tarball, such as one saved with
// "npm pack", into the cache and returns its name, its version and the
// folder. It accepts only the official UpscalerJS model packages at the
// versions listed by models.Families, because only those are looked up in
// the cache. The name and version come from the tarball's package.json.
// A local file has no published digest, so its content is checked only
// for safety, as Pull does, not for integrity. An already cached copy is
// kept and its folder returned.
func (c *Client) Import(tgzPath string) (pkg, version, dir string, err error) {
	st, err := os.Stat(tgzPath)
	if err != nil {
		return "", "", "", fmt.Errorf("registry: import: %w", err)
	}
	if !st.Mode().IsRegular() {
		return "", "", "", fmt.Errorf("registry: import %s: %w: not a regular file; give the path of a .tgz package", tgzPath, ErrInvalidPackage)
	}
	if st.Size() > MaxTarballBytes {
		return "", "", "", fmt.Errorf("registry: import %s: %w: %d bytes is over the %d-byte limit", tgzPath, ErrInvalidPackage, st.Size(), MaxTarballBytes)
	}
	cache := c.cacheDir()
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", "", "", fmt.Errorf("registry: create model cache: %w", err)
	}
	removeStale(cache, time.Now())

	pkg, version, dir, err = install(cache, tgzPath, "", "", c.Dir)
	if err != nil {
		return "", "", "", fmt.Errorf("registry: import %s: %w", tgzPath, err)
	}
	return pkg, version, dir, nil
}

// checkOfficial rejects a package that is not an official model package
// at the version the catalog describes.
func checkOfficial(pkg, version string) error {
	var versions []string
	for _, f := range models.Families() {
		if f.Package != pkg {
			continue
		}
		if f.Version == version {
			return nil
		}
		versions = append(versions, f.Version)
	}
	if len(versions) == 0 {
		return fmt.Errorf("%w: %s@%s is not an official UpscalerJS model package; load its model.json directly instead", ErrInvalidPackage, pkg, version)
	}
	return fmt.Errorf("%w: %s@%s is not the version the model catalog loads; import version %s instead", ErrInvalidPackage, pkg, version, versions[0])
}

// npm package names: lowercase letters, digits and "-._~", not starting
// with "." or "_", optionally under a scope "@scope/".
var (
	namePart   = `[a-z0-9~-][a-z0-9._~-]*`
	nameRE     = regexp.MustCompile(`^(@` + namePart + `/)?` + namePart + `$`)
	semverRE   = regexp.MustCompile(`^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	maxNameLen = 214 // npm's limit
)

// checkPackage rejects names and versions that are not valid npm names or
// exact semantic versions. Both end up in a URL and a folder name.
func checkPackage(pkg, version string) error {
	if len(pkg) > maxNameLen || !nameRE.MatchString(pkg) {
		return fmt.Errorf("registry: invalid package name %q: want a lowercase npm name such as @upscalerjs/esrgan-slim", pkg)
	}
	if len(version) > 256 || !semverRE.MatchString(version) {
		return fmt.Errorf("registry: invalid version %q for %s: want an exact version such as 1.0.0", version, pkg)
	}
	return nil
}
