package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// A run directory keeps its checkpoints in checkpoints/:
//
//	step-NNNNNNNN.safetensors   the last train.keep_last, by optimiser step
//	end-PHASE.safetensors       with train.keep_phase_ends, each phase's last

// Dir is the checkpoint folder of a run directory.
func Dir(runDir string) string { return filepath.Join(runDir, "checkpoints") }

// StepName is the file name of the checkpoint at step.
func StepName(step int64) string { return fmt.Sprintf("step-%08d.safetensors", step) }

// stepFiles lists dir's step checkpoints, oldest first (the names sort by step).
func stepFiles(dir string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "step-*.safetensors"))
	sort.Strings(matches)
	return matches, err
}

// Prune deletes all but the newest keep step checkpoints in dir.
func Prune(dir string, keep int) error {
	matches, err := stepFiles(dir)
	if err != nil {
		return err
	}
	for len(matches) > keep {
		if err := os.Remove(matches[0]); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		matches = matches[1:]
	}
	return nil
}

// Newest is a run's newest usable checkpoint and the newer ones passed over.
type Newest struct {
	Info
	// Skipped are the newer checkpoints that did not verify (ReadInfo),
	// newest first, each with why.
	Skipped []Skipped
}

// Skipped is a checkpoint passed over and the reason.
type Skipped struct {
	Path string
	Err  error
}

// FindNewest returns the newest step checkpoint of a run directory whose
// header and sizes verify (ReadInfo), and that verify accepts (the
// trainer's check of its position; nil: any): when the newest was damaged
// after it was written (a full disk, a run copied in part), the one before
// it is where the run can go on.
func FindNewest(runDir string, verify ...func(Info) error) (Newest, error) {
	dir := Dir(runDir)
	matches, _ := stepFiles(dir)
	if len(matches) == 0 {
		return Newest{}, fmt.Errorf("run %s: no checkpoint in %s (was the run started with racnn train?)", runDir, dir)
	}
	var n Newest
	for i := len(matches) - 1; i >= 0; i-- {
		in, err := ReadInfo(matches[i])
		for _, v := range verify {
			if err == nil {
				err = v(in)
			}
		}
		if err == nil {
			n.Info = in
			return n, nil
		}
		n.Skipped = append(n.Skipped, Skipped{Path: matches[i], Err: err})
	}
	return Newest{}, fmt.Errorf("run %s: none of its %d checkpoint(s) can be read; the newest: %v", runDir, len(matches), n.Skipped[0].Err)
}
