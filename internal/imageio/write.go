package imageio

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// WriteFile encodes img in format f with Encode's quality rules and writes it
// to path through WriteAtomic. An empty f selects the format from the
// extension of path with FormatFromPath. The arguments are checked before
// any file is created, so a bad format or quality leaves the folder
// untouched.
func WriteFile(path string, img image.Image, f Format, quality int, overwrite bool) error {
	if f == "" {
		var err error
		if f, err = FormatFromPath(path); err != nil {
			return err
		}
	}
	if err := checkEncode(img, f, quality); err != nil {
		return fmt.Errorf("imageio: write %q: %w", path, err)
	}
	return WriteAtomic(path, overwrite, func(w io.Writer) error {
		return encode(w, img, f, quality)
	})
}

// WriteAtomic creates or replaces the file at path with the bytes that write
// produces, so that path never holds a partial file.
//
// write receives a buffered writer on a new temporary file in the same
// folder as path. When write returns nil, the data is flushed, synced to
// disk and the file closed before it is moved to path. When write or any
// later step fails, the temporary file is removed and path is left as it
// was. The error is returned wrapped and names path.
//
// With overwrite false an existing path is an error wrapping fs.ErrExist.
// The check happens twice: before write runs, to fail fast, and again
// atomically at the end, by hard-linking the temporary file to path, which
// fails if path has appeared meanwhile. On file systems without hard links
// the final check falls back to checking for path and then renaming, which
// leaves a short window in which a file created by another process can be
// replaced. With overwrite true the temporary file is renamed over path.
//
// The new file gets mode 0666 minus the process umask, as os.Create gives,
// and does not inherit the mode of a file it replaces. Temporary files are
// named ".<name>.tmp<digits>" and are visible in the folder while write
// runs.
func WriteAtomic(path string, overwrite bool, write func(io.Writer) error) (err error) {
	if path == "" {
		return errors.New("imageio: write: empty path, name the file to write")
	}
	if write == nil {
		return fmt.Errorf("imageio: write %q: write function is nil", path)
	}
	if !overwrite {
		if err := checkAbsent(path); err != nil {
			return fmt.Errorf("imageio: write %q: %w", path, err)
		}
	}

	tmp, err := createTemp(path)
	if err != nil {
		return fmt.Errorf("imageio: write %q: create temporary file: %w", path, err)
	}
	tmpName := tmp.Name()
	closed, done := false, false
	defer func() {
		// Also runs when write panics, so no temporary file is left behind.
		if !closed {
			tmp.Close()
		}
		if !done {
			os.Remove(tmpName)
		}
	}()

	// Step 1: write through a buffer, then flush, sync and close.
	buf := bufio.NewWriterSize(tmp, 64<<10)
	if err := write(buf); err != nil {
		return fmt.Errorf("imageio: write %q: %w", path, err)
	}
	if err := buf.Flush(); err != nil {
		return fmt.Errorf("imageio: write %q: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("imageio: write %q: sync: %w", path, err)
	}
	closed = true
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("imageio: write %q: close: %w", path, err)
	}

	// Step 2: move the complete file into place.
	if overwrite {
		err = os.Rename(tmpName, path)
	} else {
		err = linkNew(tmpName, path)
	}
	if err != nil {
		return fmt.Errorf("imageio: write %q: %w", path, err)
	}
	done = true

	// Step 3: persist the new directory entry. This is best-effort, because
	// not every system can sync a directory, and the file's own data is
	// already on disk.
	syncDir(filepath.Dir(path))
	return nil
}

// errExists wraps fs.ErrExist for a destination that must not be replaced.
var errExists = fmt.Errorf("%w, pass overwrite to replace it", fs.ErrExist)

// checkAbsent returns an error wrapping fs.ErrExist if path exists, and nil
// if it does not.
func checkAbsent(path string) error {
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		return errExists
	case errors.Is(err, fs.ErrNotExist):
		return nil
	}
	return err
}

// createTemp creates a new empty file next to path. Unlike os.CreateTemp,
// which uses mode 0600, it creates the file with mode 0666 so that the
// umask decides the final permissions as for os.Create.
func createTemp(path string) (*os.File, error) {
	dir, base := filepath.Split(path)
	// Keep the name well under the usual 255-byte limit of a file name.
	if len(base) > 64 {
		base = base[:64]
	}
	var err error
	for range 100 {
		name := filepath.Join(dir, "."+base+".tmp"+strconv.FormatUint(rand.Uint64(), 10))
		var f *os.File
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	return nil, err
}

// linkNew moves the file tmp to path unless path exists. The hard link fails
// atomically if path exists. Where hard links are unavailable it checks and
// renames instead, which is not atomic.
func linkNew(tmp, path string) error {
	err := os.Link(tmp, path)
	if err == nil {
		// The data is in place under path. A failure to remove the second
		// name only leaves a stray temporary file, so it is not reported.
		os.Remove(tmp)
		return nil
	}
	if errors.Is(err, fs.ErrExist) {
		return errExists
	}
	if err := checkAbsent(path); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// syncDir syncs the directory dir, ignoring errors.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}
