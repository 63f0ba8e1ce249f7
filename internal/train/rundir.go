package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/racnn/racnn/internal/checkpoint"
	"github.com/racnn/racnn/internal/config"
	"github.com/racnn/racnn/internal/data"
	"github.com/racnn/racnn/internal/rundata"
	"github.com/racnn/racnn/internal/runlock"
)

// A run checks and opens everything it needs (config, data, every split's
// image headers, the weights or checkpoint it starts from) before it writes
// anything into its directory, so a start that fails leaves nothing that
// blocks the same command: a directory without a checkpoint is reused.

// ResumeKeys are the keys a resumed run may change: where and how fast it
// runs, where its data and weights are found, what it logs and keeps, and
// data.on_bad_image (so a run stopped by a bad file can go on without it).
// Every other key shapes the run and must stay as the run started
// (docs/resume.md).
var ResumeKeys = []string{"runtime.device", "runtime.threads", "runtime.out", "data.root", "data.workers",
	"data.prefetch", "data.on_bad_image", "model.pretrained", "train.log_every", "train.keep_last", "train.keep_phase_ends"}

// checkResume refuses a resume whose config changes a key that shapes the
// run: the checkpoint's position means something only under its own config.
func checkResume(path string, from, c config.Config) error {
	var changed []string
	for _, k := range config.Differing(from, c, "data.", "model.", "train.", "optim.", "runtime.") {
		if !slices.Contains(ResumeKeys, k) {
			changed = append(changed, k)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	k := changed[0]
	more := ""
	if len(changed) > 1 {
		more = fmt.Sprintf(" (and %s)", strings.Join(changed[1:], ", "))
	}
	return fmt.Errorf("--resume: %s is %v in the run (%s) and %v here%s; a resumed run goes on as it started: drop the change, or start a new run with another --out (keys that may change on resume: %s)",
		k, from.Value(k), path, c.Value(k), more, strings.Join(ResumeKeys, ", "))
}

// holdsRun reports whether runDir holds a run that has written a checkpoint.
func holdsRun(runDir string) bool {
	if m, _ := filepath.Glob(filepath.Join(checkpoint.Dir(runDir), "*.safetensors")); len(m) > 0 {
		return true
	}
	_, err := os.Stat(filepath.Join(runDir, "best.safetensors"))
	return err == nil
}

// lockRunDir creates runDir if need be and takes its lock.
func lockRunDir(runDir string) (*runlock.Lock, error) {
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, fmt.Errorf("run directory: %v", err)
	}
	return runlock.Acquire(runDir)
}

// checkSplitFiles reads the header of every image of every split before a
// run trains, so a bad test image is found now rather than after the whole
// schedule; under data.on_bad_image skip the bad ones are counted instead.
func checkSplitFiles(c config.Config, s *rundata.Splits, bad *data.BadImages) error {
	for _, ds := range []*data.Dataset{s.Train, s.Val, s.Test} {
		if ds == nil {
			continue
		}
		if err := ds.CheckHeaders(c.Data.Workers, bad); err != nil {
			return fmt.Errorf("%v (every split's images are checked before training: replace or remove the file, or leave unreadable images out with --data.on_bad_image skip)", err)
		}
	}
	return nil
}

// badImageError words a late unreadable image (one whose header passed):
// how to go on without it.
func (t *trainer) badImageError(err error) error {
	var ie *data.ImageError
	if !errors.As(err, &ie) {
		return err
	}
	if t.lastCheckpoint == "" {
		return fmt.Errorf("%v; start again with --data.on_bad_image skip to leave unreadable images out", err)
	}
	return fmt.Errorf("%v; racnn train --resume %s --data.on_bad_image skip goes on from the last checkpoint (%s) leaving unreadable images out", err, t.o.RunDir, t.lastCheckpoint)
}
