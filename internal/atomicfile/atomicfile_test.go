package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesWholeOrNothing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.txt")
	if err := WriteBytes(p, []byte("old")); err != nil {
		t.Fatal(err)
	}
	// A writer that fails half-way leaves the old file and no temporary.
	err := Write(p, func(w io.Writer) error {
		w.Write([]byte("partial"))
		return errors.New("disk on fire")
	})
	if err == nil {
		t.Fatal("no error")
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("content %q after a failed write", b)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(m) != 0 {
		t.Fatalf("temporary files left: %v", m)
	}
	if err := WriteBytes(p, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Fatalf("content %q", b)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", st.Mode())
	}
}

// What a kill mid-write leaves behind is found and removed; finished files stay.
func TestRemoveTemporaries(t *testing.T) {
	dir := t.TempDir()
	if err := WriteBytes(filepath.Join(dir, "a.safetensors"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(dir, ".a.safetensors.123456.tmp")
	os.WriteFile(left, []byte("half"), 0o644)
	removed, err := RemoveTemporaries(dir)
	if err != nil || len(removed) != 1 || removed[0] != left {
		t.Fatalf("removed %v, %v", removed, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a.safetensors")); err != nil {
		t.Fatal(err)
	}
}
