package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/racnn/racnn/internal/config"
	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/torch"
	"github.com/racnn/racnn/internal/weights"
)

// A run directory holds:
//
//	config.yaml                 the resolved config (racnn train --resume reads it)
//	log.jsonl                   one JSON object per logged step, evaluation and phase
//	checkpoints/step-NNNNNNNN.safetensors   the last train.keep_last checkpoints
//	checkpoints/end-PHASE.safetensors       with train.keep_phase_ends, each phase's last (racnn train --from)
//	best.safetensors            the best model by validation accuracy
//	curves.png                  loss and accuracy curves, written at the end
//
// A checkpoint is one safetensors file: the model's tensors under "model.",
// the optimiser's under "optim.", and in its metadata the schedule position
// (State, JSON) and the resolved config (YAML). It is written to a temporary
// file, fsynced and renamed, so a crash never leaves a half-written one.
const (
	checkpointFormat = "racnn-checkpoint-1"
	metaFormat       = "racnn.format"
	metaState        = "racnn.state"
	metaConfig       = "racnn.config"
	metaClasses      = "racnn.classes"
)

// State is the position in the schedule, enough to resume exactly.
type State struct {
	Phase    int     `json:"phase"` // index into Schedule
	Epoch    int     `json:"epoch"` // epochs completed in the phase
	Batch    int     `json:"batch"` // batches completed in the current epoch
	Step     int64   `json:"step"`  // optimiser steps so far, all phases
	Best     float64 `json:"best"`  // best validation accuracy so far (-1: none)
	BestStep int64   `json:"best_step"`
	Done     bool    `json:"done"`
	// ZoomAcc is the latest validation accuracy of the zoomed scales (the
	// mean over scales 2.., what the APNs decide) and ZoomRight how many of
	// them read each validation image right (zoomRight); RankStart and
	// RankStartRight are their values when a ranking phase started
	// (train.rank_rollback; the APNs it started with are saved beside the
	// optimiser state under "optim.phase_start.").
	ZoomAcc        float64 `json:"zoom_acc,omitempty"`
	ZoomRight      string  `json:"zoom_right,omitempty"`
	RankStart      float64 `json:"rank_start,omitempty"`
	RankStartRight string  `json:"rank_start_right,omitempty"`
}

// Checkpoint is a loaded checkpoint file.
type Checkpoint struct {
	Path    string
	State   State
	Config  config.Config
	Classes []string
	Model   map[string]*torch.Tensor // kept tensors: Free them when done
	Optim   map[string]*torch.Tensor
}

// Free releases the checkpoint's tensors.
func (c *Checkpoint) Free() {
	for _, m := range []map[string]*torch.Tensor{c.Model, c.Optim} {
		for _, t := range m {
			t.Free()
		}
	}
}

// SaveCheckpoint writes model and optimiser tensors with the state and
// config to path, atomically.
func SaveCheckpoint(path string, model, optim map[string]*torch.Tensor, st State, cfg config.Config, classes []string) error {
	sd := weights.NewStateDict()
	add := func(prefix string, m map[string]*torch.Tensor) error {
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			var w *weights.Tensor
			var err error
			if terr := torch.Try(func() { w, err = nn.ToWeights(m[n]) }); terr != nil {
				return terr
			}
			if err != nil {
				return fmt.Errorf("%s%s: %w", prefix, n, err)
			}
			sd.Set(prefix+n, w)
		}
		return nil
	}
	if err := add("model.", model); err != nil {
		return err
	}
	if err := add("optim.", optim); err != nil {
		return err
	}
	stj, _ := json.Marshal(st)
	cy, err := cfg.YAML()
	if err != nil {
		return err
	}
	cj, _ := json.Marshal(classes)
	meta := map[string]string{metaFormat: checkpointFormat, metaState: string(stj), metaConfig: string(cy), metaClasses: string(cj)}
	if err := weights.WriteFileAtomic(path, sd, meta); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return nil
}

// LoadCheckpoint reads a checkpoint written by SaveCheckpoint. Its tensors
// are kept CPU tensors.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	sd, meta, err := weights.ReadSafetensorsFile(path)
	if err != nil {
		return nil, checkpointFileError(path, err)
	}
	c := &Checkpoint{Path: path, Model: map[string]*torch.Tensor{}, Optim: map[string]*torch.Tensor{}}
	if c.State, c.Config, err = parseCheckpointMeta(path, meta); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(meta[metaClasses]), &c.Classes); err != nil {
		return nil, fmt.Errorf("checkpoint %s: bad class list: %v", path, err)
	}
	for name, w := range sd.All() {
		var t *torch.Tensor
		var cerr error
		if terr := torch.Try(func() { t, cerr = nn.FromWeights(w) }); terr != nil {
			cerr = terr
		}
		if cerr != nil {
			c.Free()
			return nil, fmt.Errorf("checkpoint %s: %s: %v", path, name, cerr)
		}
		t.Keep()
		switch {
		case strings.HasPrefix(name, "model."):
			c.Model[strings.TrimPrefix(name, "model.")] = t
		case strings.HasPrefix(name, "optim."):
			c.Optim[strings.TrimPrefix(name, "optim.")] = t
		default:
			t.Free()
		}
	}
	return c, nil
}

// checkpointFileError names the checkpoint in a read error.
func checkpointFileError(path string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("checkpoint %s: no such file", path)
	}
	return err
}

// parseCheckpointMeta reads a checkpoint's position and config from its
// safetensors metadata.
func parseCheckpointMeta(path string, meta map[string]string) (st State, c config.Config, err error) {
	if meta[metaFormat] != checkpointFormat {
		return st, c, fmt.Errorf("checkpoint %s: not a racnn checkpoint (format %q, want %q)", path, meta[metaFormat], checkpointFormat)
	}
	if err := json.Unmarshal([]byte(meta[metaState]), &st); err != nil {
		return st, c, fmt.Errorf("checkpoint %s: bad state: %v", path, err)
	}
	if c, err = config.FromYAML([]byte(meta[metaConfig])); err != nil {
		return st, c, fmt.Errorf("checkpoint %s: its config: %v", path, err)
	}
	return st, c, nil
}

// checkpointName is the file name of the checkpoint at step.
func checkpointName(step int64) string { return fmt.Sprintf("step-%08d.safetensors", step) }

// pruneCheckpoints deletes all but the newest keep checkpoints in dir.
func pruneCheckpoints(dir string, keep int) error {
	matches, err := filepath.Glob(filepath.Join(dir, "step-*.safetensors"))
	if err != nil {
		return err
	}
	sort.Strings(matches)
	for len(matches) > keep {
		if err := os.Remove(matches[0]); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		matches = matches[1:]
	}
	return nil
}

// LatestCheckpoint returns the newest checkpoint of a run directory.
func LatestCheckpoint(runDir string) (string, error) {
	matches, _ := filepath.Glob(filepath.Join(runDir, "checkpoints", "step-*.safetensors"))
	if len(matches) == 0 {
		return "", fmt.Errorf("run %s: no checkpoint in %s (was the run started with racnn train?)", runDir, filepath.Join(runDir, "checkpoints"))
	}
	sort.Strings(matches)
	return matches[len(matches)-1], nil
}
