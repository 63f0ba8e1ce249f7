package runlock

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// A second Acquire, even in the same process (flock locks belong to the open
// file), is refused with the holder's PID until the first is released.
func TestSecondWriterIsRefused(t *testing.T) {
	dir := t.TempDir()
	a, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("in use by racnn process %d", os.Getpid())) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("second writer: %v", err)
	}
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	b, err := Acquire(dir)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	b.Release()
	if _, err := Acquire(dir + "/missing"); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing directory: %v", err)
	}
}
