package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/racnn/racnn/internal/atomicfile"
	"github.com/racnn/racnn/internal/config"
)

// A run can start from another run's checkpoint (racnn train --from FILE):
// an ablation whose schedule begins as a finished run's did -- the demo's
// ranking-off run is the full run up to the end of cls#1 -- continues from
// there instead of training that stretch again. Everything that shaped the
// model up to the checkpoint must be the same in both configs, so that the
// forked run is, on CPU, the very run its config gives from scratch (a test
// holds it to that); what comes after may differ.

// forkKeys are the keys that shape every phase: the data and its order, the
// model, the seed, and how long an epoch is and when it is validated.
var forkKeys = []string{"data.", "model.", "train.seed", "train.scale_phase", "train.freeze_scale1",
	"train.max_steps_per_epoch", "train.eval_every"}

// forkPhaseKeys are the keys that shape one kind of phase, which must match
// when such a phase lies before the checkpoint.
var forkPhaseKeys = map[PhaseKind][]string{
	PhaseScale: {"optim.scale."}, PhasePretrain: {"optim.apn."}, PhaseCls: {"optim.cls."},
	PhaseRank:   {"optim.rank.", "train.rank_margin", "train.rank_rollback", "train.rank_keep_p"},
	PhaseFusion: {"optim.fusion.", "train.fusion_cache"},
}

// dataOnlyKeys change how fast data is read, not what is read.
var dataOnlyKeys = []string{"data.workers", "data.prefetch"}

// forkPrefix returns the phases of sched that the checkpoint at st has
// begun: the phases before it, and its own if it is under way.
func forkPrefix(sched []Phase, st State) []Phase {
	n := st.Phase
	if st.Epoch > 0 || st.Batch > 0 {
		n++
	}
	return sched[:min(n, len(sched))]
}

// CheckFork reports why a run with config c cannot start from the
// checkpoint at path (whose position and config are st and from), or nil.
func CheckFork(path string, st State, from config.Config, optim bool, c config.Config) error {
	if st.Done {
		return fmt.Errorf("--from %s: the checkpoint ends its run; fork from one of its phase ends (train.keep_phase_ends) or another checkpoint", path)
	}
	prefix := forkPrefix(Schedule(from), st)
	if n := len(prefix); !optim && n > 0 && (st.Batch > 0 || st.Epoch < prefix[n-1].Epochs) {
		return fmt.Errorf("--from %s: the checkpoint is inside phase %s and holds no optimiser state to go on with; fork from a phase end or a checkpoints/ file", path, prefix[n-1])
	}
	keys := slices.Clone(forkKeys)
	for _, ph := range prefix {
		keys = append(keys, forkPhaseKeys[ph.Kind]...)
	}
	for _, k := range config.Differing(from, c, keys...) {
		if slices.Contains(dataOnlyKeys, k) {
			continue
		}
		return fmt.Errorf("--from %s: %s is %v there and %v here; a forked run must train the stretch it skips the same way (set --%s %v, or train from scratch)",
			path, k, from.Value(k), c.Value(k), k, from.Value(k))
	}
	sched := Schedule(c)
	for i, ph := range prefix {
		if i >= len(sched) || sched[i] != ph {
			here := "nothing"
			if i < len(sched) {
				here = fmt.Sprintf("%s (%d epochs)", sched[i], sched[i].Epochs)
			}
			return fmt.Errorf("--from %s: phase %d is %s (%d epochs) there and %s here; a forked run's schedule must begin with the phases the checkpoint has trained", path, i+1, ph, ph.Epochs, here)
		}
	}
	return nil
}

// forkLog starts a forked run's log with the source run's log up to the
// checkpoint, so the log and the curves cover the whole schedule: the
// records of its steps, and of those at its last step the ones of the
// phases it has begun (the next phase's first record shares that step).
// The source's resume and interrupt records stay behind.
func forkLog(path string, st State, from config.Config, runDir string) error {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(path)), "log.jsonl")) // RUN/checkpoints/FILE
	if err != nil {
		return nil // a checkpoint moved out of its run: the log starts at the fork
	}
	begun := map[string]bool{}
	for _, ph := range forkPrefix(Schedule(from), st) {
		begun[ph.String()] = true
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var rec struct {
			Kind  string `json:"kind"`
			Step  int64  `json:"step"`
			Phase string `json:"phase"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Phase == "" {
			continue
		}
		if rec.Step > st.Step || (rec.Step == st.Step && !begun[rec.Phase]) {
			break
		}
		out.Write(sc.Bytes())
		out.WriteByte('\n')
	}
	return atomicfile.WriteBytes(filepath.Join(runDir, "log.jsonl"), out.Bytes())
}

// startFork logs where a forked run starts and takes over the kept model so
// far when it is at hand: the checkpoint's own model when the best
// validation was at its very position, or the source run's
// best.safetensors while it still holds that step's model. Otherwise the
// run keeps the best of its own validations.
func (t *trainer) startFork() error {
	st := t.st
	t.rl.say("starting from %s: phase %d, epoch %d, batch %d (step %d) of the run that wrote it", t.o.From, st.Phase, st.Epoch, st.Batch, st.Step)
	t.rl.record("fork", map[string]any{"checkpoint": t.o.From, "step": st.Step})
	if st.Best < 0 {
		return nil
	}
	best := filepath.Join(t.o.RunDir, "best.safetensors")
	if st.BestStep == st.Step && st.Batch == 0 {
		return t.save(best, nil, st)
	}
	srcBest := filepath.Join(filepath.Dir(filepath.Dir(t.o.From)), "best.safetensors")
	if _, bs, err := readCheckpointInfo(srcBest); err == nil && bs.Step == st.BestStep {
		return copyFile(srcBest, best)
	}
	t.rl.say("the best model before the fork (step %d) is no longer at hand: this run keeps the best of its own validations", st.BestStep)
	t.st.Best, t.st.BestStep = -1, 0
	return nil
}

// phaseEndName is the file that keeps the checkpoint ending phase ph
// (train.keep_phase_ends): end-cls1.safetensors for cls#1.
func phaseEndName(ph Phase) string {
	return "end-" + strings.ReplaceAll(ph.String(), "#", "") + ".safetensors"
}

// keepPhaseEnd keeps the checkpoint just written, which ends phase ph, out
// of the pruning: a hard link, or a copy where links are not to be had.
func (t *trainer) keepPhaseEnd(ph Phase) error {
	dst := filepath.Join(t.ckDir, phaseEndName(ph))
	os.Remove(dst)
	if err := os.Link(t.lastCheckpoint, dst); err != nil {
		return copyFile(t.lastCheckpoint, dst)
	}
	return nil
}

// copyFile copies from to to atomically, streaming (a VGG-19 checkpoint
// is gigabytes).
func copyFile(from, to string) error {
	f, err := os.Open(from)
	if err != nil {
		return err
	}
	defer f.Close()
	return atomicfile.Write(to, func(w io.Writer) error {
		_, err := io.Copy(w, f)
		return err
	})
}
