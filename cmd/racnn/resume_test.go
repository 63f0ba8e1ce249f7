package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/racnn/racnn/internal/train"
	"github.com/racnn/racnn/internal/weights"
)

// TestMain lets the test binary act as racnn itself, so a test can run the
// CLI in a child process and interrupt it with a real signal.
func TestMain(m *testing.M) {
	if args := os.Getenv("RACNN_TEST_MAIN_ARGS"); args != "" {
		os.Args = append([]string{"racnn"}, strings.Split(args, "\x1f")...)
		os.Exit(run())
	}
	os.Exit(m.Run())
}

func racnnCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "RACNN_TEST_MAIN_ARGS="+strings.Join(args, "\x1f"))
	return cmd
}

// evalRecords returns the validation records of a run's log, without times.
func evalRecords(t *testing.T, run string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(run, "log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if m["kind"] != "eval" && m["kind"] != "final" {
			continue
		}
		delete(m, "time")
		b, _ := json.Marshal(m)
		out = append(out, string(b))
	}
	return out
}

// A run interrupted by SIGINT saves a checkpoint and exits 130; resumed, it
// ends with exactly the metrics of an uninterrupted run (CPU, fixed seed).
// Once early in phase (a), once inside a ranking phase, whose checkpoint must
// carry the APNs the phase started from (train.rank_rollback decides at its
// end against them), and once in the fusion phase.
func TestInterruptAndResumeMatchUninterrupted(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
		when  string          // the log line to wait for, then signal
		in    train.PhaseKind // the phase the interrupt checkpoint must be in ("": any)
	}{
		// Small steps and more of them, so the signal lands mid-phase.
		{"phase a", []string{"--data.batch_size", "4", "--train.scale_epochs", "3"}, `"kind":"step"`, train.PhaseScale},
		{"ranking phase", []string{"--data.batch_size", "4", "--train.rank_epochs", "3"}, `"phase":"rank#1","phase_kind":"rank"`, train.PhaseRank},
		// The fusion phase's epochs run on inputs computed at its start
		// (train.fusion_cache): resumed, it computes them again, the same.
		{"fusion phase", []string{"--data.batch_size", "4", "--train.fusion_epochs", "100"}, `"phase":"fusion","phase_kind":"fusion"`, train.PhaseFusion},
		// Dynamic loss scaling (fp16's, on fp32 here) from a scale so large
		// that the gradients overflow float32 (in whichever phase the signal
		// lands after the first overflow): steps are skipped and the scale backs off, then grows every
		// 3 clean steps and overflows again, so a resumed run matches only if
		// the checkpoint carries the scaler's state.
		{"loss scaler", []string{"--data.batch_size", "4", "--train.cls_epochs", "6", "--runtime.loss_scale", "dynamic",
			"--runtime.loss_scale_init", "3e38", "--runtime.loss_scale_interval", "3"}, `"kind":"skip"`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) { interruptAndResume(t, tc.extra, tc.when, tc.in) })
	}
}

func interruptAndResume(t *testing.T, extra []string, when string, in train.PhaseKind) {
	cfg, _ := tinyRun(t)
	interruptAndResumeConfig(t, cfg, extra, when, in)
}

// interruptAndResumeConfig is interruptAndResume with the config at cfg;
// it returns the uninterrupted run's directory.
func interruptAndResumeConfig(t *testing.T, cfg string, extra []string, when string, in train.PhaseKind) (whole string) {
	t.Helper()
	dir := t.TempDir()
	whole = filepath.Join(dir, "whole")
	cut := filepath.Join(dir, "cut")

	// The uninterrupted run goes on beside the interrupted one: separate
	// processes on one thread each, so neither changes the other's numbers.
	wholeCmd := racnnCommand(t, append([]string{"train", "--config", cfg, "--out", whole}, extra...)...)
	var wholeLog strings.Builder
	wholeCmd.Stdout, wholeCmd.Stderr = &wholeLog, &wholeLog
	if err := wholeCmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitWhole := sync.OnceValue(wholeCmd.Wait)
	defer func() {
		wholeCmd.Process.Kill() // a failure before the comparison does not wait for it
		waitWhole()
	}()

	cmd := racnnCommand(t, append([]string{"train", "--config", cfg, "--out", cut}, extra...)...)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the run has logged the line we wait for.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		b, _ := os.ReadFile(filepath.Join(cut, "log.jsonl"))
		if strings.Count(string(b), when) >= 1 && strings.Count(string(b), `"kind":"step"`) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("%s not logged in time:\n%s", when, log.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 130 {
		t.Fatalf("interrupted run: %v (want exit 130)\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "racnn train --resume "+cut) {
		t.Fatalf("no resume hint:\n%s", log.String())
	}
	if _, err := os.Stat(filepath.Join(cut, "test_metrics.json")); err == nil {
		t.Fatal("the run finished before the signal; make it longer")
	}
	ck, st, err := train.LoadCheckpoint(newestCheckpoint(t, cut))
	if err != nil {
		t.Fatal(err)
	}
	// The ranking gate's section: what the phase started from.
	var gate struct {
		Start *struct {
			Acc float64 `json:"acc"`
		} `json:"start"`
	}
	rankStart, starts := 0.0, len(ck.Sections["rank_gate"].Tensors)
	if err := json.Unmarshal(ck.Sections["rank_gate"].Doc, &gate); err != nil {
		t.Fatalf("rank_gate section: %v", err)
	}
	if gate.Start != nil {
		rankStart = gate.Start.Acc
	}
	sched := train.Schedule(ck.Config)
	ck.Free()
	if st.Phase >= len(sched) || (in != "" && sched[st.Phase].Kind != in) {
		t.Fatalf("interrupt checkpoint at phase %d epoch %d batch %d of %v; want it in a %s phase", st.Phase, st.Epoch, st.Batch, sched, in)
	}
	if slices.Contains(extra, "--runtime.loss_scale") && (st.SkippedSteps == 0 || st.LossScale <= 0 || st.LossScale >= 3e38) {
		t.Fatalf("interrupt checkpoint: %d skipped steps, loss scale %g; want skipped steps and a scale backed off from 3e38", st.SkippedSteps, st.LossScale)
	}
	if in == train.PhaseRank && (rankStart <= 0 || starts == 0) {
		t.Fatalf("interrupt checkpoint at phase %d epoch %d batch %d: rank start %v, %d start tensors; want a ranking phase's", st.Phase, st.Epoch, st.Batch, rankStart, starts)
	}

	if out, err := racnnCommand(t, "train", "--resume", cut).CombinedOutput(); err != nil {
		t.Fatalf("resumed run: %v\n%s", err, out)
	}
	if err := waitWhole(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, wholeLog.String())
	}
	a, b := evalRecords(t, whole), evalRecords(t, cut)
	if len(a) == 0 || strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatalf("metrics differ:\nuninterrupted:\n%s\nresumed:\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	wm, _ := os.ReadFile(filepath.Join(whole, "test_metrics.json"))
	cm, _ := os.ReadFile(filepath.Join(cut, "test_metrics.json"))
	if string(wm) != string(cm) {
		t.Fatalf("test metrics differ:\n%s\n%s", wm, cm)
	}
	if err := sameModel(newestCheckpoint(t, whole), newestCheckpoint(t, cut)); err != nil {
		t.Fatalf("final weights: %v", err)
	}
	return whole
}

func newestCheckpoint(t *testing.T, run string) string {
	t.Helper()
	ckpts, _ := filepath.Glob(filepath.Join(run, "checkpoints", "*.safetensors"))
	if len(ckpts) == 0 {
		t.Fatalf("%s has no checkpoint", run)
	}
	sort.Strings(ckpts)
	return ckpts[len(ckpts)-1]
}

// sameModel says where the model tensors ("model.*") of two checkpoints
// differ, bit for bit.
func sameModel(a, b string) error {
	sa, _, err := weights.ReadSafetensorsFile(a)
	if err != nil {
		return err
	}
	sb, _, err := weights.ReadSafetensorsFile(b)
	if err != nil {
		return err
	}
	n := 0
	for name, ta := range sa.All() {
		if !strings.HasPrefix(name, "model.") {
			continue
		}
		n++
		tb, ok := sb.Get(name)
		switch {
		case !ok:
			return fmt.Errorf("%s lacks %s", b, name)
		case ta.DType != tb.DType || !slices.Equal(ta.Shape, tb.Shape) || !bytes.Equal(ta.Data, tb.Data):
			return fmt.Errorf("%s differs between %s and %s", name, a, b)
		}
	}
	if m := len(slices.DeleteFunc(sb.Keys(), func(k string) bool { return !strings.HasPrefix(k, "model.") })); n == 0 || m != n {
		return fmt.Errorf("%s holds %d model tensors, %s %d", a, n, b, m)
	}
	return nil
}
