package registry

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Temporary files and folders in the cache start with tempPrefix, which no
// package folder does (those start with the package's scope or name).
// One older than staleAge is left from a crashed or killed pull, since a
// live download or extraction keeps writing to it, and is removed.
const (
	tempPrefix = ".partial-"
	staleAge   = time.Hour
)

// removeStale removes the temporary files and folders in cache that are
// older than staleAge. Errors are ignored, because another process may be
// removing the same entries and a leftover costs only disk space.
func removeStale(cache string, now time.Time) {
	entries, err := os.ReadDir(cache)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		info, err := e.Info()
		if err == nil && now.Sub(info.ModTime()) > staleAge {
			os.RemoveAll(filepath.Join(cache, e.Name()))
		}
	}
}

// install unpacks the tarball file tgz into a temporary folder in cache,
// checks its package.json and renames the folder to dirFor(name, version).
// With pkg and version set, the tarball must contain that package.
// Otherwise it must contain an official model package. If the final folder appears in
// the meantime with the same package, install keeps it and discards its
// own copy.
func install(cache, tgz, pkg, version string, dirFor func(pkg, version string) string) (gotPkg, gotVersion, dir string, err error) {
	f, err := os.Open(tgz)
	if err != nil {
		return "", "", "", err
	}
	defer f.Close()
	label := "import"
	if pkg != "" {
		label = entryName(pkg, version)
	}
	tmp, err := os.MkdirTemp(cache, tempPrefix+label+"-*")
	if err != nil {
		return "", "", "", fmt.Errorf("create temporary folder in the model cache: %w", err)
	}
	published := false
	defer func() {
		if !published {
			os.RemoveAll(tmp)
		}
	}()

	// Unpack and identify the package.
	if err := extract(f, tmp); err != nil {
		return "", "", "", err
	}
	meta, err := readPackageJSON(tmp)
	if err != nil {
		return "", "", "", fmt.Errorf("%w: %v", ErrInvalidPackage, err)
	}
	if pkg != "" {
		if meta.Name != pkg || meta.Version != version {
			return "", "", "", fmt.Errorf("%w: package.json names %s@%s, not the requested %s@%s", ErrInvalidPackage, meta.Name, meta.Version, pkg, version)
		}
	} else {
		if err := checkPackage(meta.Name, meta.Version); err != nil {
			return "", "", "", fmt.Errorf("%w: package.json: %v", ErrInvalidPackage, err)
		}
		if err := checkOfficial(meta.Name, meta.Version); err != nil {
			return "", "", "", err
		}
	}

	// Publish the folder with one rename. MkdirTemp made it private.
	dir = dirFor(meta.Name, meta.Version)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", "", "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if have, rerr := readPackageJSON(dir); rerr == nil && have == meta {
			return meta.Name, meta.Version, dir, nil // another pull won the race
		}
		if _, serr := os.Stat(dir); serr == nil || !errors.Is(serr, os.ErrNotExist) {
			return "", "", "", fmt.Errorf("cache folder %s exists but does not contain %s@%s; remove it and retry", dir, meta.Name, meta.Version)
		}
		return "", "", "", fmt.Errorf("move package into the model cache: %w", err)
	}
	published = true
	return meta.Name, meta.Version, dir, nil
}
