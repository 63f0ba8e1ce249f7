package train

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// runLog appends one JSON object per line to a run's log.jsonl and mirrors
// a human line to the terminal.
type runLog struct {
	mu  sync.Mutex
	f   *os.File
	out io.Writer
}

// openRunLog opens the log at path; "" keeps no file (a data-parallel rank
// other than 0).
func openRunLog(path string, out io.Writer) (*runLog, error) {
	if out == nil {
		out = io.Discard
	}
	if path == "" {
		return &runLog{out: out}, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = io.Discard
	}
	return &runLog{f: f, out: out}, nil
}

// record writes rec (a JSON object) with kind and time fields added.
func (l *runLog) record(kind string, rec map[string]any) {
	rec["kind"] = kind
	rec["time"] = time.Now().UTC().Format(time.RFC3339)
	b, _ := json.Marshal(rec)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Write(append(b, '\n'))
	}
}

// say prints a human line.
func (l *runLog) say(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.out, format+"\n", args...)
}

func (l *runLog) close() error {
	if err := l.f.Sync(); err != nil {
		l.f.Close()
		return err
	}
	return l.f.Close()
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
