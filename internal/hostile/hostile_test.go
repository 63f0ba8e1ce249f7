// Package hostile holds only tests: the hostile-file suite. Every file in
// testdata (written by scripts/make_hostile_files.py, listed with the class
// it stands for in testdata/manifest.json) is read the way racnn reads such
// a file, in a child process, which must end with a one-line error naming
// the file, without a panic, and with a bounded peak memory.
package hostile

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/racnn/racnn/internal/data"
	"github.com/racnn/racnn/internal/data/matv5"
	"github.com/racnn/racnn/internal/weights"
)

// Bounds on one child reading one file of a few KB: what the Go heap
// allocated in all, and how far its peak RSS may rise above a child that
// reads nothing. Before the readers checked their lengths these files
// asked for 1 GiB to 4 TiB.
const (
	maxTotalAlloc = 16 << 20
	maxExtraRSS   = 48 << 20
	// childAS caps the child's address space, so that a regression fails
	// the test instead of taking the machine's memory.
	childAS = 4 << 30
)

type entry struct {
	Class string `json:"class"`
	Want  string `json:"want"`
	Bytes int    `json:"bytes"`
}

// childResult is what the child prints.
type childResult struct {
	Err        string `json:"err"`
	TotalAlloc uint64 `json:"total_alloc"`
}

// read opens path with the reader of its kind: .pth files through
// weights.ReadFile (as --model.pretrained does), .safetensors through
// weights.ReadSafetensorsFile, MAT-files through matv5.ReadFile, images
// through data.DecodeFile (at full size, as a training image is read).
func read(path string) error {
	var err error
	switch filepath.Ext(path) {
	case ".mat":
		_, err = matv5.ReadFile(path)
	case ".safetensors":
		_, _, err = weights.ReadSafetensorsFile(path)
	case ".pth":
		_, _, err = weights.ReadFile(path)
	case ".jpg", ".png":
		_, err = data.DecodeFile(path)
	}
	return err
}

// TestChild is the child process: it reads HOSTILE_FILE and prints a
// childResult. Run directly, it does nothing.
func TestChild(t *testing.T) {
	path := os.Getenv("HOSTILE_FILE")
	if path == "" {
		t.Skip("run by TestHostileFiles")
	}
	lim := syscall.Rlimit{Cur: childAS, Max: childAS}
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &lim); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := read(path)
	runtime.ReadMemStats(&after)
	r := childResult{TotalAlloc: after.TotalAlloc - before.TotalAlloc}
	if err != nil {
		r.Err = err.Error()
	}
	b, _ := json.Marshal(r)
	fmt.Printf("HOSTILE %s\n", b)
}

// runChild reads path in a child process and returns its result and peak
// RSS in bytes.
func runChild(t *testing.T, path string) (childResult, int64) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "HOSTILE_FILE="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: the child failed (%v); a panic or a crash:\n%s", path, err, out)
	}
	var r childResult
	var found bool
	for _, line := range strings.Split(string(out), "\n") {
		if s, ok := strings.CutPrefix(line, "HOSTILE "); ok {
			if err := json.Unmarshal([]byte(s), &r); err != nil {
				t.Fatal(err)
			}
			found = true
		}
	}
	if !found {
		t.Fatalf("%s: no result from the child:\n%s", path, out)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Fatal("no rusage for the child")
	}
	return r, ru.Maxrss * 1024 // Linux reports KiB
}

func TestHostileFiles(t *testing.T) {
	b, err := os.ReadFile("testdata/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var manifest map[string]entry
	if err := json.Unmarshal(b, &manifest); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("testdata/*")
	if len(files) != len(manifest)+1 {
		t.Errorf("testdata has %d files, the manifest lists %d: run scripts/make_hostile_files.py", len(files)-1, len(manifest))
	}

	// The baseline: a child that reads nothing.
	base := filepath.Join(t.TempDir(), "nothing.none")
	os.WriteFile(base, nil, 0o644)
	_, baseRSS := runChild(t, base)
	t.Logf("baseline child: peak RSS %.1f MiB", float64(baseRSS)/(1<<20))

	for name, e := range manifest {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name)
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Size() != int64(e.Bytes) || st.Size() > 8<<10 {
				t.Errorf("%d bytes, the manifest says %d (and at most 8 KB)", st.Size(), e.Bytes)
			}
			r, rss := runChild(t, path)
			t.Logf("%s (%s): %s; allocated %d KiB, peak RSS +%.1f MiB", name, e.Class, r.Err, r.TotalAlloc>>10, float64(rss-baseRSS)/(1<<20))
			switch {
			case r.Err == "":
				t.Errorf("no error")
			case strings.ContainsAny(r.Err, "\n\r"):
				t.Errorf("error is not one line: %q", r.Err)
			case !strings.Contains(r.Err, path):
				t.Errorf("error %q does not name the file", r.Err)
			case !strings.Contains(r.Err, e.Want):
				t.Errorf("error %q does not say %q", r.Err, e.Want)
			}
			if r.TotalAlloc > maxTotalAlloc {
				t.Errorf("allocated %d bytes, over %d", r.TotalAlloc, maxTotalAlloc)
			}
			if rss-baseRSS > maxExtraRSS {
				t.Errorf("peak RSS %d bytes above the baseline's, over %d", rss-baseRSS, maxExtraRSS)
			}
		})
	}
}
