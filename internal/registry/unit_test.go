package registry

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"testing"
)

func TestDistExpected(t *testing.T) {
	data := []byte("tarball bytes")
	sha1Sum := sha1.Sum(data)
	sha256Sum := sha256.Sum256(data)
	b64 := base64.StdEncoding.EncodeToString
	tests := []struct {
		name    string
		dist    dist
		wantAlg string // "" means an error
	}{
		{"sha512", dist{Integrity: integrityOf(data)}, "sha512"},
		{"sha512 beside shasum", dist{Integrity: integrityOf(data), Shasum: shasumOf(data)}, "sha512"},
		{"strongest of several", dist{Integrity: "sha1-" + b64(sha1Sum[:]) + " " + integrityOf(data) + " sha256-" + b64(sha256Sum[:])}, "sha512"},
		{"sha256 only", dist{Integrity: "sha256-" + b64(sha256Sum[:])}, "sha256"},
		{"sha1 integrity", dist{Integrity: "sha1-" + b64(sha1Sum[:])}, "sha1"},
		{"SRI options", dist{Integrity: integrityOf(data) + "?foo"}, "sha512"},
		{"shasum fallback", dist{Shasum: shasumOf(data)}, "sha1"},
		{"unknown algorithm", dist{Integrity: "md5-" + b64(sha1Sum[:16])}, ""},
		{"bad base64", dist{Integrity: "sha512-!!!"}, ""},
		{"wrong digest length", dist{Integrity: "sha512-" + b64(sha1Sum[:])}, ""},
		{"bad shasum", dist{Shasum: "xyz"}, ""},
		{"short shasum", dist{Shasum: "abcd"}, ""},
		{"nothing", dist{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.dist.expected()
			if tt.wantAlg == "" {
				if err == nil {
					t.Errorf("expected(%+v) = %v, want an error", tt.dist, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("expected(%+v) error: %v", tt.dist, err)
			}
			if got.algorithm != tt.wantAlg {
				t.Errorf("expected(%+v).algorithm = %s, want %s", tt.dist, got.algorithm, tt.wantAlg)
			}
			h := got.newHash()
			h.Write(data)
			if sum := h.Sum(nil); !bytes.Equal(sum, got.sum) {
				t.Errorf("expected(%+v) = %v, want the digest of the data, %x", tt.dist, got, sum)
			}
		})
	}
}

func TestCompareVersions(t *testing.T) {
	sorted := []string{
		"0.1.0", "0.9.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
		"1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0", "not-a-version",
	}
	shuffled := slices.Clone(sorted)
	slices.Reverse(shuffled)
	shuffled[3], shuffled[7] = shuffled[7], shuffled[3]
	slices.SortFunc(shuffled, compareVersions)
	if !slices.Equal(shuffled, sorted) {
		t.Errorf("sorted versions = %q, want %q", shuffled, sorted)
	}
	if c := compareVersions("1.0.0+build.5", "1.0.0"); c != 0 {
		t.Errorf("compareVersions(1.0.0+build.5, 1.0.0) = %d, want 0", c)
	}
}

func TestEntryPath(t *testing.T) {
	tests := []struct {
		name, want string
		bad        bool
	}{
		{name: "package/models/x2/model.json", want: "models/x2/model.json"},
		{name: "package/./models//x2/model.json", want: "models/x2/model.json"},
		{name: "other-top/package.json", want: "package.json"},
		{name: `package\models\x2\model.json`, want: "models/x2/model.json"},
		{name: "package/", want: ""},
		{name: "package", want: ""},
		{name: "./package/package.json", want: "package.json"},
		{name: "package.json", want: ""}, // beside the top folder: not part of the package
		{name: "package/../x", bad: true},
		{name: "package/models/../../x", bad: true},
		{name: "package/models/../x", bad: true}, // stays inside, but ".." is never accepted
		{name: "..", bad: true},
		{name: `package\..\x`, bad: true},
		{name: "/etc/passwd", bad: true},
		{name: `\etc\passwd`, bad: true},
		{name: "package/x\x00y", bad: true},
		{name: "", bad: true},
	}
	for _, tt := range tests {
		got, err := entryPath(tt.name)
		switch {
		case tt.bad && !errors.Is(err, ErrInvalidPackage):
			t.Errorf("entryPath(%q) = %q, %v, want ErrInvalidPackage", tt.name, got, err)
		case !tt.bad && (err != nil || got != tt.want):
			t.Errorf("entryPath(%q) = %q, %v, want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestKeep(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"package.json", true},
		{"LICENSE", true},
		{"LICENSE.md", true},
		{"license", true},
		{"LICENCE.txt", true},
		{"README.md", true},
		{"readme", true},
		{"models/x2/model.json", true},
		{"models/group1-shard1of1.bin", true},
		{"assets/samples/2x/result.png", true},
		{"dist/index.js", false},
		{"dist/models/x2/model.json", false},
		{"index.js", false},
		{"models", false},
		{"package.json.bak", false},
		{"src/models/x2.ts", false},
	}
	for _, tt := range tests {
		if got := keep(tt.name); got != tt.want {
			t.Errorf("keep(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}
