package registry

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// extract unpacks the kept entries of the gzipped npm tarball r into the
// folder dest, which must be empty. npm puts every entry under one top
// folder, usually "package/", which is stripped. Every entry, kept or not,
// must have a name inside that folder and be a regular file or folder, and
// the sizes must respect MaxFileBytes, MaxUnpackedBytes and MaxEntries.
// Errors about the tarball's content wrap ErrInvalidPackage.
func extract(r io.Reader, dest string) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("%w: not a gzip-compressed tarball: %v", ErrInvalidPackage, err)
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return err
	}
	defer root.Close()

	tr := tar.NewReader(zr)
	var total int64
	for entries := 1; ; entries++ {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: read tarball: %v", ErrInvalidPackage, err)
		}

		// Check every entry, including those not kept: a tarball with an
		// unsafe entry is not trusted at all.
		if entries > MaxEntries {
			return fmt.Errorf("%w: more than %d entries", ErrInvalidPackage, MaxEntries)
		}
		name, err := entryPath(h.Name)
		if err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeReg:
		case tar.TypeDir, tar.TypeXGlobalHeader:
			continue
		case tar.TypeSymlink, tar.TypeLink:
			return fmt.Errorf("%w: entry %q is a link to %q; model packages contain only regular files", ErrInvalidPackage, h.Name, h.Linkname)
		default:
			return fmt.Errorf("%w: entry %q is not a regular file (tar type %q)", ErrInvalidPackage, h.Name, h.Typeflag)
		}
		if h.Size > MaxFileBytes {
			return fmt.Errorf("%w: entry %q is %d bytes, over the %d-byte limit for one file", ErrInvalidPackage, h.Name, h.Size, MaxFileBytes)
		}
		if total += h.Size; total > MaxUnpackedBytes {
			return fmt.Errorf("%w: entries add up to more than %d bytes", ErrInvalidPackage, MaxUnpackedBytes)
		}
		if name == "" || !keep(name) {
			continue
		}

		// Write the file.
		if err := writeEntry(root, name, tr, h.Size); err != nil {
			return fmt.Errorf("entry %q: %w", h.Name, err)
		}
	}
}

// writeEntry copies size bytes from r into the new file name under root.
func writeEntry(root *os.Root, name string, r io.Reader, size int64) (err error) {
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return conflictError(err)
		}
	}
	// O_EXCL rejects a name that appears twice.
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return conflictError(err)
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	n, err := io.Copy(f, io.LimitReader(r, size))
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: truncated after %d of %d bytes", ErrInvalidPackage, n, size)
		}
		return err
	}
	if n != size {
		return fmt.Errorf("%w: truncated after %d of %d bytes", ErrInvalidPackage, n, size)
	}
	// Flush to disk, so that a crash soon after the rename that publishes
	// the folder cannot leave empty files in the cache.
	return f.Sync()
}

// conflictError marks the errors that two entries with the same name, or
// a file where a folder should be, cause as ErrInvalidPackage.
func conflictError(err error) error {
	if errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("%w: %v; the tarball has two entries for one name", ErrInvalidPackage, err)
	}
	return err
}

// entryPath returns a tarball entry's name relative to the package folder,
// or "" for the top folder itself and files beside it. It rejects names
// that are absolute, contain a ".." component, or are not local paths on
// this system (such as "C:x" or "NUL" on Windows).
func entryPath(name string) (string, error) {
	slashed := strings.ReplaceAll(name, `\`, "/")
	if name == "" || strings.ContainsRune(name, 0) || path.IsAbs(slashed) ||
		slices.Contains(strings.Split(slashed, "/"), "..") {
		return "", fmt.Errorf("%w: entry %q escapes the package folder", ErrInvalidPackage, name)
	}
	_, rest, ok := strings.Cut(path.Clean(slashed), "/")
	if !ok {
		return "", nil
	}
	if !filepath.IsLocal(filepath.FromSlash(rest)) {
		return "", fmt.Errorf("%w: entry %q escapes the package folder", ErrInvalidPackage, name)
	}
	return rest, nil
}

// keep reports whether the cache keeps the package file name. It keeps
// package.json and the licence and readme files at the top, everything
// under models/ (the model.json files and weight shards), and everything
// under assets/ (a small fixture image and sample outputs, useful for
// checking a model). The compiled JavaScript under dist/ is dropped.
func keep(name string) bool {
	top, _, nested := strings.Cut(name, "/")
	if nested {
		return top == "models" || top == "assets"
	}
	upper := strings.ToUpper(name)
	return name == "package.json" || strings.HasPrefix(upper, "LICENSE") ||
		strings.HasPrefix(upper, "LICENCE") || strings.HasPrefix(upper, "README")
}

// maxPackageJSONBytes bounds package.json; the official ones are under 11 KB.
const maxPackageJSONBytes = 1 << 20

// packageJSON is the part of package.json that identifies a package.
type packageJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// readPackageJSON reads package.json at the top of the folder dir.
func readPackageJSON(dir string) (packageJSON, error) {
	f, err := os.Open(filepath.Join(dir, "package.json"))
	if err != nil {
		return packageJSON{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPackageJSONBytes+1))
	if err != nil {
		return packageJSON{}, err
	}
	if len(b) > maxPackageJSONBytes {
		return packageJSON{}, fmt.Errorf("package.json is over %d bytes", maxPackageJSONBytes)
	}
	var meta packageJSON
	if err := json.Unmarshal(b, &meta); err != nil {
		return packageJSON{}, fmt.Errorf("package.json: %w", err)
	}
	return meta, nil
}
