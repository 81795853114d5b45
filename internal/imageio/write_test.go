package imageio

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dirEntries returns the names in dir, failing t on error.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// checkOnly fails t unless dir contains exactly the names in want, which
// also shows that no temporary file was left behind.
func checkOnly(t *testing.T, dir string, want ...string) {
	t.Helper()
	got := dirEntries(t, dir)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("folder holds %q, want %q", got, want)
	}
}

func TestWriteFileRoundTrip(t *testing.T) {
	src := semiTransparent(32, 24)
	tests := []struct {
		name    string
		format  Format // "" selects it from the extension
		quality int
		want    Format
		exact   bool
	}{
		{"out.png", PNG, 0, PNG, true},
		{"out.jpg", JPEG, 85, JPEG, false},
		{"out.webp", WebP, 0, WebP, false},
		{"lossless.webp", WebP, 100, WebP, true},
		{"out.tiff", TIFF, 0, TIFF, true},
		{"by-extension.PNG", "", 0, PNG, true},
		{"by-extension.jpeg", "", 0, JPEG, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tt.name)
			if err := WriteFile(path, src, tt.format, tt.quality, false); err != nil {
				t.Fatalf("WriteFile(%q, %q, %d) error: %v", tt.name, tt.format, tt.quality, err)
			}
			checkOnly(t, dir, tt.name)

			img, f, err := DecodeFile(path, Limits{})
			if err != nil {
				t.Fatalf("DecodeFile(%q) error: %v", tt.name, err)
			}
			if f != tt.want {
				t.Errorf("DecodeFile(%q) format = %q, want %q", tt.name, f, tt.want)
			}
			if tt.exact {
				checkSamePixels(t, tt.name, img, src)
			} else {
				// Lossy formats: the opaque quadrants keep their colour.
				got := corners(img)
				for i, want := range quadrantColors[:2] {
					if !near(got[i], want, 40) {
						t.Errorf("%s: quadrant %d = %v, want about %v", tt.name, i, got[i], want)
					}
				}
			}
		})
	}
}

func TestWriteFileExistingWithoutOverwrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keep.png")
	old := []byte("previous contents")
	if err := os.WriteFile(path, old, 0o666); err != nil {
		t.Fatal(err)
	}

	err := WriteFile(path, quadrants(8, 8), PNG, 0, false)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("WriteFile(existing, overwrite=false) error = %v, want fs.ErrExist", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("WriteFile(existing) error %q does not name the path", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, old) {
		t.Errorf("WriteFile(existing, overwrite=false) changed the file to %q, want %q", got, old)
	}
	checkOnly(t, dir, "keep.png")
}

func TestWriteFileOverwrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "replace.png")
	if err := os.WriteFile(path, []byte("previous contents"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, quadrants(8, 8), PNG, 0, true); err != nil {
		t.Fatalf("WriteFile(existing, overwrite=true) error: %v", err)
	}
	img, _, err := DecodeFile(path, Limits{})
	if err != nil {
		t.Fatalf("DecodeFile after overwrite error: %v", err)
	}
	checkCorners(t, "overwritten file", img, quadrantColors, 0)
	checkOnly(t, dir, "replace.png")
}

func TestWriteFileBadArgumentsCreateNothing(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		file    string
		format  Format
		quality int
	}{
		{"quality", "a.jpg", JPEG, 150},
		{"format", "a.png", "heic", 0},
		{"extension", "a.heic", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.file)
			if err := WriteFile(path, quadrants(8, 8), tt.format, tt.quality, false); err == nil {
				t.Fatalf("WriteFile(%q, %q, %d) succeeded, want error", tt.file, tt.format, tt.quality)
			}
			checkOnly(t, dir)
		})
	}
}

func TestWriteFileMissingFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "a.png")
	err := WriteFile(path, quadrants(8, 8), PNG, 0, false)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteFile(%q) error = %v, want fs.ErrNotExist", path, err)
	}
}

func TestWriteAtomicFailureLeavesNothing(t *testing.T) {
	writeErr := errors.New("encoder failed")
	tests := []struct {
		name      string
		overwrite bool
		existing  bool
	}{
		{"new file", false, false},
		{"replace", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.bin")
			if tt.existing {
				if err := os.WriteFile(path, []byte("old"), 0o666); err != nil {
					t.Fatal(err)
				}
			}
			err := WriteAtomic(path, tt.overwrite, func(w io.Writer) error {
				w.Write(bytes.Repeat([]byte("partial"), 100000))
				return writeErr
			})
			if !errors.Is(err, writeErr) {
				t.Fatalf("WriteAtomic(failing write) error = %v, want %v", err, writeErr)
			}
			if tt.existing {
				checkOnly(t, dir, "out.bin")
				if got, _ := os.ReadFile(path); string(got) != "old" {
					t.Errorf("WriteAtomic(failing write) changed the file to %.20q, want %q", got, "old")
				}
			} else {
				checkOnly(t, dir)
			}
		})
	}
}

func TestWriteAtomicPanicLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.bin")
	func() {
		defer func() {
			if recover() == nil {
				t.Error("WriteAtomic did not pass the panic on")
			}
		}()
		WriteAtomic(path, false, func(w io.Writer) error {
			w.Write([]byte("partial"))
			panic("write crashed")
		})
	}()
	checkOnly(t, dir)
}

func TestWriteAtomicDestinationAppearsDuringWrite(t *testing.T) {
	// Another writer creates the destination after the early check. The
	// final step must notice and keep the other writer's file.
	dir := t.TempDir()
	path := filepath.Join(dir, "out.bin")
	err := WriteAtomic(path, false, func(w io.Writer) error {
		if err := os.WriteFile(path, []byte("other writer"), 0o666); err != nil {
			return err
		}
		_, err := w.Write([]byte("mine"))
		return err
	})
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("WriteAtomic(destination created meanwhile) error = %v, want fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "other writer" {
		t.Errorf("WriteAtomic replaced the other writer's file with %q", got)
	}
	checkOnly(t, dir, "out.bin")
}

func TestWriteAtomicContents(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.txt")
	want := strings.Repeat("0123456789", 20000) // larger than the write buffer
	if err := WriteAtomic(path, false, func(w io.Writer) error {
		_, err := io.WriteString(w, want)
		return err
	}); err != nil {
		t.Fatalf("WriteAtomic error: %v", err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("WriteAtomic wrote %d bytes, want %d", len(got), len(want))
	}
	checkOnly(t, dir, "data.txt")
}

func TestWriteAtomicArguments(t *testing.T) {
	if err := WriteAtomic("", false, func(io.Writer) error { return nil }); err == nil {
		t.Error(`WriteAtomic("") succeeded, want error`)
	}
	dir := t.TempDir()
	if err := WriteAtomic(filepath.Join(dir, "a"), false, nil); err == nil {
		t.Error("WriteAtomic(nil write) succeeded, want error")
	}
	checkOnly(t, dir)
}

func TestWriteAtomicOntoDirectory(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "sub")
	if err := os.Mkdir(target, 0o777); err != nil {
		t.Fatal(err)
	}
	err := WriteAtomic(target, true, func(w io.Writer) error {
		_, err := w.Write([]byte("x"))
		return err
	})
	if err == nil {
		t.Fatal("WriteAtomic(existing directory, overwrite=true) succeeded, want error")
	}
	checkOnly(t, dir, "sub")
}

func TestLinkNewFallbackWhenAbsent(t *testing.T) {
	// linkNew must move the file even when path does not exist yet, and
	// remove the temporary name.
	dir := t.TempDir()
	tmp := filepath.Join(dir, ".tmp")
	if err := os.WriteFile(tmp, []byte("data"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := linkNew(tmp, filepath.Join(dir, "final")); err != nil {
		t.Fatalf("linkNew error: %v", err)
	}
	checkOnly(t, dir, "final")
}
