package train

import (
	"encoding/json"
	"fmt"

	"github.com/racnn/racnn/internal/checkpoint"
	"github.com/racnn/racnn/internal/config"
)

// A run directory holds:
//
//	config.yaml                 the resolved config (racnn train --resume reads it)
//	log.jsonl                   one JSON object per logged step, evaluation and phase
//	checkpoints/step-NNNNNNNN.safetensors   the last train.keep_last checkpoints
//	checkpoints/end-PHASE.safetensors       with train.keep_phase_ends, each phase's last (racnn train --from)
//	best.safetensors            the best model by validation accuracy
//	curves.png                  loss and accuracy curves, written at the end
//	lock                        flocked by the process writing the run (its PID inside; docs/resume.md)
//
// Each checkpoint (internal/checkpoint) carries the trainer's State as its
// schedule document and the ranking gate (rankGate) in a section of its own.

// State is the position in the schedule, enough to resume exactly.
type State struct {
	Phase    int     `json:"phase"` // index into Schedule
	Epoch    int     `json:"epoch"` // epochs completed in the phase
	Batch    int     `json:"batch"` // batches completed in the current epoch
	Step     int64   `json:"step"`  // optimiser steps so far, all phases
	Best     float64 `json:"best"`  // best validation accuracy so far (-1: none)
	BestStep int64   `json:"best_step"`
	Done     bool    `json:"done"`
	// World is the number of data-parallel ranks that wrote the position
	// (0: one): a batch position means another thing under another world size.
	World int `json:"world,omitempty"`
	// LossScale and LossScaleGrowth are the loss scaler's state
	// (runtime.loss_scale; torch.GradScaler's Scale and GrowthTracker), so a
	// resumed run scales and skips exactly as an uninterrupted one;
	// SkippedSteps counts the steps it skipped.
	LossScale       float32 `json:"loss_scale,omitempty"`
	LossScaleGrowth int     `json:"loss_scale_growth,omitempty"`
	SkippedSteps    int64   `json:"skipped_steps,omitempty"`
	// LogBytes is the length of log.jsonl when the checkpoint was written:
	// a resumed run cuts the log back to it (rollBackLog).
	LogBytes int64 `json:"log_bytes,omitempty"`
}

// decodeState reads the trainer's State from a checkpoint's schedule
// document and checks it against the checkpoint's config c.
func decodeState(path string, doc json.RawMessage, c config.Config) (State, error) {
	var st State
	if err := json.Unmarshal(doc, &st); err != nil {
		return st, fmt.Errorf("checkpoint %s: bad state: %v", path, err)
	}
	if err := st.check(c); err != nil {
		return st, fmt.Errorf("checkpoint %s: bad state: %v", path, err)
	}
	return st, nil
}

// check says what in st cannot be a position in c's schedule: a file's
// numbers are validated, never trusted (a negative phase indexed the
// schedule with it).
func (st State) check(c config.Config) error {
	sched := Schedule(c)
	switch {
	case st.Phase < 0 || st.Phase > len(sched):
		return fmt.Errorf("phase %d outside the schedule's 0..%d", st.Phase, len(sched))
	case st.Phase < len(sched) && (st.Epoch < 0 || st.Epoch > sched[st.Phase].Epochs):
		return fmt.Errorf("epoch %d outside phase %s's 0..%d", st.Epoch, sched[st.Phase], sched[st.Phase].Epochs)
	case st.Batch < 0 || (c.Train.MaxStepsPerEpoch > 0 && st.Batch > c.Train.MaxStepsPerEpoch):
		return fmt.Errorf("batch %d outside an epoch", st.Batch)
	case st.Step < 0 || st.BestStep < 0 || st.BestStep > st.Step:
		return fmt.Errorf("step %d and best step %d do not fit", st.Step, st.BestStep)
	case st.LogBytes < 0:
		return fmt.Errorf("log length %d", st.LogBytes)
	case st.Done && st.Phase != len(sched):
		return fmt.Errorf("done at phase %d of %d", st.Phase, len(sched))
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"best", st.Best}} {
		if !(f.v >= 0 && f.v <= 1) && !(f.name == "best" && f.v == -1) {
			return fmt.Errorf("%s %g is not an accuracy", f.name, f.v)
		}
	}
	return nil
}

// LoadCheckpoint reads a checkpoint and the trainer State it carries.
func LoadCheckpoint(path string) (*checkpoint.Checkpoint, State, error) {
	ck, err := checkpoint.Load(path)
	if err != nil {
		return nil, State{}, err
	}
	st, err := decodeState(path, ck.State, ck.Config)
	if err != nil {
		ck.Free()
		return nil, State{}, err
	}
	return ck, st, nil
}

// readCheckpointInfo reads a checkpoint's header and its State.
func readCheckpointInfo(path string) (checkpoint.Info, State, error) {
	in, err := checkpoint.ReadInfo(path)
	if err != nil {
		return in, State{}, err
	}
	st, err := decodeState(path, in.State, in.Config)
	return in, st, err
}
