package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/racnn/racnn/internal/atomicfile"
)

// runLog appends one JSON object per line to a run's log.jsonl and mirrors
// a human line to the terminal. Until open is called it only prints: a run
// writes nothing into its directory before it has opened all it needs.
type runLog struct {
	mu   sync.Mutex
	path string
	f    *os.File
	out  io.Writer
	size int64 // bytes in the file: a checkpoint records it (State.LogBytes)
	err  error // the first failed write, reported once and then by every checkpoint
}

func newRunLog(out io.Writer) *runLog {
	if out == nil {
		out = io.Discard
	}
	return &runLog{out: out}
}

// openRunLog opens the log at path for appending; "" keeps no file (a
// data-parallel rank other than 0).
func openRunLog(path string, out io.Writer) (*runLog, error) {
	l := newRunLog(out)
	if path == "" {
		return l, nil
	}
	return l, l.open(path, false)
}

// open starts appending to the log at path (truncated first when fresh).
func (l *runLog) open(path string, fresh bool) error {
	flags := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	if fresh {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.path, l.f, l.size = path, f, st.Size()
	return nil
}

// record writes rec (a JSON object) with kind and time fields added. A
// failed write is reported on the terminal once and kept for failed.
func (l *runLog) record(kind string, rec map[string]any) {
	rec["kind"] = kind
	rec["time"] = time.Now().UTC().Format(time.RFC3339)
	b, _ := json.Marshal(rec)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil || l.err != nil {
		return
	}
	n, err := l.f.Write(append(b, '\n'))
	l.size += int64(n)
	if err != nil {
		l.err = fmt.Errorf("%s: %v", l.path, err)
		fmt.Fprintf(l.out, "warning: cannot write the run log %v; the run stops at its next checkpoint\n", l.err)
	}
}

// failed returns the first write error, or nil.
func (l *runLog) failed() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// bytes is the log's length so far.
func (l *runLog) bytes() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.size
}

// say prints a human line.
func (l *runLog) say(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.out, format+"\n", args...)
}

func (l *runLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %v", l.path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: %v", l.path, err)
	}
	return l.err
}

// rollBackLog cuts a resumed run's log back to the checkpoint it resumes
// from, so that the steps trained again after a kill are logged once: to
// the log's length when the checkpoint was written, or, for a checkpoint
// that did not record it, to the records of its step and before. The log is
// rewritten atomically.
func rollBackLog(path string, st State) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	keep := b
	if st.LogBytes > 0 && st.LogBytes <= int64(len(b)) {
		keep = b[:st.LogBytes]
	} else if st.LogBytes == 0 {
		var out []byte
		for _, line := range splitLines(b) {
			var rec struct {
				Step int64 `json:"step"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Step > st.Step {
				break
			}
			out = append(append(out, line...), '\n')
		}
		keep = out
	}
	if len(keep) == len(b) {
		return nil
	}
	return atomicfile.WriteBytes(path, keep)
}

// ReadLog reads a run's log.jsonl records.
func ReadLog(path string) ([]map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for i, line := range splitLines(b) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, i+1, err)
		}
		out = append(out, m)
	}
	return out, nil
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	start := 0
	for i, c := range b {
		if c == '\n' {
			out = append(out, b[start:i])
			start = i + 1
		}
	}
	if start < len(b) {
		out = append(out, b[start:])
	}
	return out
}
