// Package runlock keeps one writer per run directory: an advisory lock
// (flock) on the directory's lock file, held for the life of the run and
// released by the kernel when the process ends, however it ends.
package runlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Name is the lock file's name inside a run directory; it holds the PID of
// the process that holds the lock.
const Name = "lock"

// Lock is a held run-directory lock.
type Lock struct{ f *os.File }

// Acquire locks dir (which must exist) for this process, or says which
// process holds it.
func Acquire(dir string) (*Lock, error) {
	path := filepath.Join(dir, Name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("run directory %s: lock: %v", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("run directory %s is in use by racnn process %s (it holds %s): wait for it to end or stop it, or choose another --out", dir, holder(path), path)
		}
		return nil, fmt.Errorf("run directory %s: lock %s: %v", dir, path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// holder is the PID written in the lock file, or "of unknown PID".
func holder(path string) string {
	b, err := os.ReadFile(path)
	if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil && pid > 0 {
		return strconv.Itoa(pid)
	}
	return "(PID unknown)"
}

// Release unlocks the directory. The PID stays in the file; it means
// nothing once the lock is free.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	return err
}
