package tfjs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"
)

// Limits on what is read from a package tarball.
const (
	// MaxPackageFileBytes is the largest file taken from a tarball.
	MaxPackageFileBytes = 1 << 30
	// MaxPackageBytes is the most data read from a tarball's entries.
	MaxPackageBytes = 4 << 30
)

// Package is an npm package holding models: a .tgz tarball or an unpacked
// folder with package.json at its top.
type Package struct {
	// Name and Version come from package.json.
	Name, Version string
	path          string
	fsys          fs.FS // rooted at the package folder; nil for a tarball
}

// OpenPackage opens the package at p, a .tgz file or a folder, and reads its
// package.json.
func OpenPackage(p string) (*Package, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("tfjs: open package: %w", err)
	}
	pkg := &Package{path: p}
	var data []byte
	if st.IsDir() {
		pkg.fsys = os.DirFS(p)
		data, err = readLimited(pkg.fsys, "package.json", 1<<20)
	} else {
		var files map[string][]byte
		files, err = readTarball(p, func(name string) bool { return name == "package.json" })
		data = files["package.json"]
		if err == nil && data == nil {
			err = errors.New("package.json is missing")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("tfjs: open package %s: %w", p, err)
	}
	var meta struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return nil, fmt.Errorf("tfjs: open package %s: package.json: %w", p, err)
	}
	pkg.Name, pkg.Version = meta.Name, meta.Version
	return pkg, nil
}

// Load loads the model at modelPath inside the package, for example
// "models/x4/model.json".
func (p *Package) Load(modelPath string, opts *Options) (*Model, error) {
	modelPath = path.Clean(strings.TrimPrefix(modelPath, "./"))
	label := p.path + "!" + modelPath
	if !fs.ValidPath(modelPath) {
		return nil, &LoadError{File: label, Err: fmt.Errorf("model path %q is not a relative path inside the package", modelPath)}
	}
	fsys := p.fsys
	if fsys == nil {
		// Keep only the model's folder: the shards sit beside model.json.
		dir := path.Dir(modelPath)
		files, err := readTarball(p.path, func(name string) bool {
			return dir == "." && !strings.Contains(name, "/") || strings.HasPrefix(name, dir+"/")
		})
		if err != nil {
			return nil, &LoadError{File: label, Err: err}
		}
		fsys = memFS(files)
	}
	m, err := LoadFS(fsys, modelPath, opts)
	relabel(m, err, label)
	return m, err
}

// ReadFile returns a file from the package, such as an asset.
func (p *Package) ReadFile(name string) ([]byte, error) {
	if p.fsys != nil {
		return readLimited(p.fsys, name, MaxPackageFileBytes)
	}
	files, err := readTarball(p.path, func(n string) bool { return n == name })
	if err != nil {
		return nil, err
	}
	b, ok := files[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	return b, nil
}

// readTarball returns the regular files of a gzipped npm tarball for which
// keep returns true, named relative to the package folder (npm puts every
// entry under one top folder, usually "package/"). Entries whose names leave
// that folder are rejected, as are files over MaxPackageFileBytes.
func readTarball(file string, keep func(name string) bool) (map[string][]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s is not a gzipped tarball: %w", file, err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	var total int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: read tarball: %w", file, err)
		}
		name, err := packagePath(h.Name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if h.Typeflag != tar.TypeReg || name == "" || !keep(name) {
			continue
		}
		if h.Size > MaxPackageFileBytes || total+h.Size > MaxPackageBytes {
			return nil, fmt.Errorf("%s: entry %q is %d bytes, too large for a model file", file, h.Name, h.Size)
		}
		// The header gives the size, so the bytes are read into one
		// allocation of that size.
		b := make([]byte, h.Size)
		if n, err := io.ReadFull(tr, b); errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: entry %q is truncated: %d of %d bytes: %w", file, h.Name, n, h.Size, io.ErrUnexpectedEOF)
		} else if err != nil {
			return nil, fmt.Errorf("%s: entry %q: %w", file, h.Name, err)
		}
		total += h.Size
		files[name] = b
	}
}

// packagePath strips the top folder from a tarball entry name and rejects
// names that are absolute or climb out of the package.
func packagePath(name string) (string, error) {
	slashed := strings.ReplaceAll(name, `\`, "/")
	clean := path.Clean(slashed)
	if path.IsAbs(clean) || slices.Contains(strings.Split(slashed, "/"), "..") {
		return "", fmt.Errorf("entry %q escapes the package folder", name)
	}
	_, rest, ok := strings.Cut(clean, "/")
	if !ok {
		return "", nil // the top folder itself, or a file beside it
	}
	return rest, nil
}

// memFS is a read-only file system of whole files kept in memory.
type memFS map[string][]byte

// take hands over the bytes of a file and removes it from m, so that a model's
// shards are not copied once more and their memory is freed as soon as the
// weights are decoded.
func (m memFS) take(name string) ([]byte, bool) {
	b, ok := m[name]
	delete(m, name)
	return b, ok
}

func (m memFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	b, ok := m[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &memFile{Reader: bytes.NewReader(b), name: path.Base(name), size: int64(len(b))}, nil
}

type memFile struct {
	*bytes.Reader
	name string
	size int64
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f, nil }
func (f *memFile) Close() error               { return nil }
func (f *memFile) Name() string               { return f.name }
func (f *memFile) Size() int64                { return f.size }
func (f *memFile) Mode() fs.FileMode          { return 0o444 }
func (f *memFile) ModTime() time.Time         { return time.Time{} }
func (f *memFile) IsDir() bool                { return false }
func (f *memFile) Sys() any                   { return nil }
