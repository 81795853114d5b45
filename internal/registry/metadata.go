package registry

import (
	"cmp"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// maxMetadataBytes bounds a package's metadata document. The full
// document of a package with many versions can reach several MiB; the
// abbreviated form requested here is much smaller.
const maxMetadataBytes = 32 << 20

// acceptMetadata requests npm's abbreviated metadata ("corgi") and accepts
// the full document from registries that do not serve it.
const acceptMetadata = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"

// dist is the "dist" object of one version in a package's metadata.
type dist struct {
	Tarball   string `json:"tarball"`
	Integrity string `json:"integrity"` // SRI: "sha512-<base64>", maybe several
	Shasum    string `json:"shasum"`    // SHA-1, hex
}

// digest is an expected tarball digest.
type digest struct {
	algorithm string // SRI name: sha512, sha384, sha256 or sha1
	sum       []byte
}

func (d digest) String() string {
	return d.algorithm + "-" + base64.StdEncoding.EncodeToString(d.sum)
}

func (d digest) newHash() hash.Hash {
	switch d.algorithm {
	case "sha512":
		return sha512.New()
	case "sha384":
		return sha512.New384()
	case "sha256":
		return sha256.New()
	default:
		return sha1.New()
	}
}

// sriStrength ranks the SRI algorithms this package checks; a higher rank
// is preferred.
var sriStrength = map[string]int{"sha1": 1, "sha256": 2, "sha384": 3, "sha512": 4}

// expected returns the digest to check the tarball against: the strongest
// hash in the integrity string, or the SHA-1 shasum when the registry
// publishes no integrity string (older packages).
func (d dist) expected() (digest, error) {
	if strings.TrimSpace(d.Integrity) == "" {
		sum, err := hex.DecodeString(d.Shasum)
		if err != nil || len(sum) != sha1.Size {
			return digest{}, fmt.Errorf("the registry publishes neither an integrity string nor a valid shasum (%q)", d.Shasum)
		}
		return digest{"sha1", sum}, nil
	}
	var best digest
	for _, field := range strings.Fields(d.Integrity) {
		// An SRI entry is "<algorithm>-<base64>", optionally "?<options>".
		alg, b64, ok := strings.Cut(field, "-")
		b64, _, _ = strings.Cut(b64, "?")
		rank := sriStrength[alg]
		if !ok || rank == 0 || rank <= sriStrength[best.algorithm] {
			continue
		}
		sum, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(sum) != (digest{alg, nil}).newHash().Size() {
			return digest{}, fmt.Errorf("invalid integrity string %q", d.Integrity)
		}
		best = digest{alg, sum}
	}
	if best.algorithm == "" {
		return digest{}, fmt.Errorf("integrity string %q has no sha512, sha384, sha256 or sha1 digest", d.Integrity)
	}
	return best, nil
}

// metadataURL returns the URL of pkg's metadata document. npm's registry
// wants the "/" of a scoped name escaped.
func (c *Client) metadataURL(pkg string) string {
	return c.registryURL() + strings.Replace(pkg, "/", "%2f", 1)
}

// resolve fetches pkg's metadata and returns the dist object of version.
func (c *Client) resolve(ctx context.Context, pkg, version string) (dist, error) {
	u := c.metadataURL(pkg)
	if err := checkURL(u); err != nil {
		return dist{}, fmt.Errorf("registry: invalid registry URL %q: %w; set NPM_CONFIG_REGISTRY to an http or https URL", c.registryURL(), err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return dist{}, fmt.Errorf("registry: invalid registry URL %q: %w", c.registryURL(), err)
	}
	req.Header.Set("Accept", acceptMetadata)
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return dist{}, requestError(ctx, u, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return dist{}, fmt.Errorf("registry: package %s: %w (GET %s: HTTP %s); check the name", pkg, ErrNotFound, u, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return dist{}, fmt.Errorf("registry: package %s: %w", pkg, &StatusError{URL: u, StatusCode: resp.StatusCode, Status: resp.Status})
	}

	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes+1))
	if err != nil {
		return dist{}, requestError(ctx, u, err)
	}
	if len(body) > maxMetadataBytes {
		return dist{}, fmt.Errorf("registry: package %s: metadata from %s is over %d bytes", pkg, u, maxMetadataBytes)
	}
	var meta struct {
		Name     string                     `json:"name"`
		Versions map[string]json.RawMessage `json:"versions"`
	}
	if err := json.Unmarshal(body, &meta); err != nil {
		return dist{}, fmt.Errorf("registry: package %s: invalid metadata JSON from %s: %w", pkg, u, err)
	}
	if meta.Versions == nil {
		return dist{}, fmt.Errorf("registry: package %s: metadata from %s has no \"versions\" object", pkg, u)
	}
	raw, ok := meta.Versions[version]
	if !ok {
		return dist{}, fmt.Errorf("registry: %s has no version %s: %w; available: %s", pkg, version, ErrNotFound, listVersions(meta.Versions))
	}
	var v struct {
		Dist dist `json:"dist"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return dist{}, fmt.Errorf("registry: %s@%s: invalid metadata JSON from %s: %w", pkg, version, u, err)
	}
	if v.Dist.Tarball == "" {
		return dist{}, fmt.Errorf("registry: %s@%s: metadata from %s names no tarball", pkg, version, u)
	}
	if err := checkURL(v.Dist.Tarball); err != nil {
		return dist{}, fmt.Errorf("registry: %s@%s: invalid tarball URL %q: %w", pkg, version, v.Dist.Tarball, err)
	}
	return v.Dist, nil
}

// checkURL accepts absolute http and https URLs.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return errors.New("not an absolute http or https URL")
	}
	return nil
}

// requestError describes a failed request: the context's error when it
// ended, else ErrUnreachable with the URL and where the settings come from.
func requestError(ctx context.Context, u string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("registry: GET %s: %w", u, context.Cause(ctx))
	}
	// The message names the URL already, so drop url.Error's copy of it.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("registry: GET %s: %w: %v; check the registry URL (upscaler --registry, else NPM_CONFIG_REGISTRY, else %s) and the proxies in HTTPS_PROXY, HTTP_PROXY and NO_PROXY", u, ErrUnreachable, err, DefaultRegistry)
}

// maxListedVersions is how many versions an unknown-version error lists.
const maxListedVersions = 30

// listVersions returns the versions, newest last, shortened to the newest
// maxListedVersions.
func listVersions(versions map[string]json.RawMessage) string {
	if len(versions) == 0 {
		return "none"
	}
	list := make([]string, 0, len(versions))
	for v := range versions {
		list = append(list, v)
	}
	slices.SortFunc(list, compareVersions)
	s := strings.Join(list[max(0, len(list)-maxListedVersions):], ", ")
	if n := len(list) - maxListedVersions; n > 0 {
		s = fmt.Sprintf("(%d older) %s", n, s)
	}
	return s
}

// compareVersions orders semantic versions by precedence: major, minor and
// patch numerically, a pre-release before its release, pre-release fields
// compared numerically when both are numbers. Build metadata is ignored.
// Strings that are not versions sort as plain text after the versions.
func compareVersions(a, b string) int {
	aa, aok := splitVersion(a)
	bb, bok := splitVersion(b)
	switch {
	case !aok && !bok:
		return strings.Compare(a, b)
	case !aok:
		return 1
	case !bok:
		return -1
	}
	for i := range 3 {
		if c := compareField(aa[i], bb[i]); c != 0 {
			return c
		}
	}
	pa, pb := aa[3:], bb[3:]
	switch {
	case len(pa) == 0 && len(pb) == 0:
		return 0
	case len(pa) == 0:
		return 1
	case len(pb) == 0:
		return -1
	}
	for i := range min(len(pa), len(pb)) {
		if c := compareField(pa[i], pb[i]); c != 0 {
			return c
		}
	}
	return len(pa) - len(pb)
}

// splitVersion splits "1.2.3-beta.4+build" into 1, 2, 3, beta, 4.
func splitVersion(v string) ([]string, bool) {
	if !semverRE.MatchString(v) {
		return nil, false
	}
	v, _, _ = strings.Cut(v, "+")
	release, pre, _ := strings.Cut(v, "-")
	fields := strings.Split(release, ".")
	if pre != "" {
		fields = append(fields, strings.Split(pre, ".")...)
	}
	return fields, true
}

// compareField compares two version fields, numerically when both are
// numbers; a number sorts before a word.
func compareField(a, b string) int {
	na, aerr := strconv.ParseUint(a, 10, 64)
	nb, berr := strconv.ParseUint(b, 10, 64)
	switch {
	case aerr == nil && berr == nil:
		return cmp.Compare(na, nb)
	case aerr == nil:
		return -1
	case berr == nil:
		return 1
	}
	return strings.Compare(a, b)
}
