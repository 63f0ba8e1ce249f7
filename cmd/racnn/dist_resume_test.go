package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/racnn/racnn/internal/train"
)

// logRecords returns every record of a run's log.
func logRecords(t *testing.T, run string) []map[string]any {
	t.Helper()
	f, err := os.Open(filepath.Join(run, "log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s/log.jsonl: %v", run, err)
		}
		out = append(out, m)
	}
	return out
}

// countSteps counts the step records of a run's log in phase ph ("": any);
// a log not yet written counts none.
func countSteps(run, ph string) int {
	b, _ := os.ReadFile(filepath.Join(run, "log.jsonl"))
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["kind"] == "step" && (ph == "" || m["phase"] == ph) {
			n++
		}
	}
	return n
}

// waitSteps waits until run's log holds n step records of phase ph; kill
// ends what is running when it does not in time.
func waitSteps(t *testing.T, run, ph string, n int, kill func(), log fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for countSteps(run, ph) < n {
		if time.Now().After(deadline) {
			kill()
			t.Fatalf("%s: %d step(s) of phase %q not logged in time:\n%s", run, n, ph, log)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// newestPosition reads the position of a run's newest checkpoint and the
// schedule of its config.
func newestPosition(t *testing.T, run string) (train.State, []train.Phase) {
	t.Helper()
	ckpts, _ := filepath.Glob(filepath.Join(run, "checkpoints", "step-*.safetensors"))
	if len(ckpts) == 0 {
		t.Fatalf("%s: no checkpoint", run)
	}
	slices.Sort(ckpts)
	ck, st, err := train.LoadCheckpoint(ckpts[len(ckpts)-1])
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Free()
	return st, train.Schedule(ck.Config)
}

// checkOtherWorldResume checks the log of a run resumed under another
// world size from the mid-epoch position st of sched: the line saying so,
// nothing trained of the rest of that epoch (the next step is the first of
// the next epoch, and the step after st's), the epoch's end (validation when
// due, the ranking gate's decision at a ranking phase's end), every phase of
// the schedule, and the final test metrics.
func checkOtherWorldResume(t *testing.T, run, out string, st train.State, sched []train.Phase, was, now string) {
	t.Helper()
	ph := sched[st.Phase]
	line := fmt.Sprintf("resume: this checkpoint was written by %s and this run has %s", was, now)
	want := fmt.Sprintf("continues from the end of phase %s's epoch %d (its batches after %d are not trained)", ph, st.Epoch+1, st.Batch)
	if !strings.Contains(out, line) || !strings.Contains(out, want) {
		t.Fatalf("the resumed run does not say where it continues (want %q ... %q):\n%s", line, want, out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, line) {
			t.Logf("%s", l)
		}
	}
	recs := logRecords(t, run)
	at := -1 // the last resume: earlier ones may be one-process retries
	for i, r := range recs {
		if r["kind"] == "resume" {
			at = i
		}
	}
	if at < 0 {
		t.Fatal("no resume record in the log")
	}
	nextPhase, nextEpoch := st.Phase, st.Epoch+1
	if nextEpoch == ph.Epochs {
		nextPhase, nextEpoch = st.Phase+1, 0
	}
	validates := st.Epoch+1 == ph.Epochs // train.eval_every 0: at phase ends
	var evaled, gated bool
	for _, r := range recs[at+1:] {
		switch r["kind"] {
		case "eval":
			evaled = evaled || (r["phase"] == ph.String() && r["epoch"] == float64(st.Epoch+1))
		case "rank_end":
			gated = gated || r["phase"] == ph.String()
		}
		if r["kind"] != "step" {
			continue
		}
		if nextPhase >= len(sched) {
			t.Fatalf("a step after the schedule's last epoch: %v", r)
		}
		got := fmt.Sprint(r["phase"], " epoch ", r["epoch"], " batch ", r["batch"], " step ", r["step"])
		if exp := fmt.Sprint(sched[nextPhase], " epoch ", nextEpoch, " batch 1 step ", st.Step+1); got != exp {
			t.Fatalf("the first step after the resume is %s; want %s (the next epoch's first)", got, exp)
		}
		t.Logf("checkpoint at %s epoch %d batch %d (step %d), written by %s; resumed by %s at %s", ph, st.Epoch, st.Batch, st.Step, was, now, got)
		break
	}
	if validates != evaled {
		t.Errorf("validation of %s's epoch %d after the resume: %v, want %v", ph, st.Epoch+1, evaled, validates)
	}
	if ph.Kind == train.PhaseRank && validates && !gated {
		t.Errorf("the ranking gate did not decide on %s after the resume", ph)
	}
	var phases []string
	for _, r := range recs {
		if r["kind"] == "phase" {
			phases = append(phases, r["phase"].(string))
		}
	}
	var all []string
	for _, p := range sched {
		all = append(all, p.String())
	}
	if !slices.Equal(phases, all) {
		t.Errorf("phases started: %v, want %v", phases, all)
	}
	if recs[len(recs)-1]["kind"] != "final" {
		t.Errorf("the log does not end with the final evaluation: %v", recs[len(recs)-1])
	}
	if _, err := os.Stat(filepath.Join(run, "test_metrics.json")); err != nil {
		t.Errorf("no test metrics: %v", err)
	}
}

// Two ranks stopped as a user stops torchrun, Ctrl-C in its terminal, in
// the middle of the ranking phase, and resumed by the same torchrun command
// with --resume, end with the weights (byte for byte), validations and test
// metrics of an uninterrupted 2-rank run. The terminal sends SIGINT to
// torchrun and its workers, and torchrun sends it to them again: both must
// count as one request, which stops every rank after the same step and has
// rank 0 write the checkpoint. Without torchrun the ranks get SIGINT from
// the test. A copy of the interrupted run, resumed by one process, continues
// from the end of the interrupted epoch (checkOtherWorldResume).
func TestDataParallelInterruptAndResume(t *testing.T) {
	cfg, _ := tinyRun(t)
	dir := t.TempDir()
	whole, cut, other := filepath.Join(dir, "whole"), filepath.Join(dir, "cut"), filepath.Join(dir, "other")
	// Global batch 8 (9 steps an epoch of the 72 training images), every
	// step logged: the signal lands inside the ranking phase's one epoch.
	args := []string{"--data.batch_size", "4", "--train.log_every", "1"}
	_, torchrunErr := exec.Command(debianPython, "-c", "import torch.distributed.run").CombinedOutput()

	// launch starts 2 ranks of racnn train with a; interrupt stops them as
	// a user would; wait returns their output and whether they succeeded.
	launch := func(name string, a ...string) (interrupt func(), kill func(), wait func() (string, error)) {
		if torchrunErr == nil {
			tr := torchrunCommand(t, filepath.Join(dir, name+"-logs"), filepath.Base(dir)+name, 0, a...)
			tr.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its own group, as a terminal's foreground job
			var log strings.Builder
			tr.Stdout, tr.Stderr = &log, &log
			if err := tr.Start(); err != nil {
				t.Fatal(err)
			}
			return func() { syscall.Kill(-tr.Process.Pid, syscall.SIGINT) },
				func() { syscall.Kill(-tr.Process.Pid, syscall.SIGKILL) },
				func() (string, error) { err := tr.Wait(); return log.String(), err }
		}
		cmds, logs := startRanks(t, 2, a...)
		each := func(s syscall.Signal) {
			for _, c := range cmds {
				c.Process.Signal(s)
			}
		}
		// As Ctrl-C under torchrun: the terminal's SIGINT, then the launcher's.
		return func() { each(syscall.SIGINT); time.Sleep(50 * time.Millisecond); each(syscall.SIGINT) },
			func() { each(syscall.SIGKILL) }, func() (string, error) {
				var err error
				var out []string
				for r, c := range cmds {
					if e := c.Wait(); e != nil && err == nil {
						err = fmt.Errorf("rank %d: %v", r, e)
					}
					out = append(out, logs[r].String())
				}
				return strings.Join(out, "\n"), err
			}
	}
	if torchrunErr != nil {
		t.Logf("no torchrun in %s (%v): the ranks are started by the test and get its SIGINT", debianPython, torchrunErr)
	}

	wholeRanks, wholeLogs := startRanks(t, 2, append([]string{"train", "--config", cfg, "--out", whole}, args...)...)
	interrupt, kill, wait := launch("cut", append([]string{"train", "--config", cfg, "--out", cut}, args...)...)
	waitSteps(t, cut, "rank#1", 1, kill, wholeLogs[0])
	interrupt()
	out, err := wait()
	if err == nil && torchrunErr != nil {
		t.Fatalf("the interrupted ranks exited 0:\n%s", out)
	}
	if !strings.Contains(out, "continue with: racnn train --resume "+cut) {
		t.Fatalf("the interrupted run saved no checkpoint (%v):\n%s", err, out)
	}
	if strings.Contains(out, "quit without saving") {
		t.Fatalf("one signal was taken for two:\n%s", out)
	}
	st, sched := newestPosition(t, cut)
	if st.World != 2 || sched[st.Phase].Kind != train.PhaseRank || st.Batch < 1 || st.Batch >= 9 {
		t.Fatalf("interrupt checkpoint of %d ranks at %s epoch %d batch %d; want 2 ranks inside the ranking phase's epoch (9 batches)",
			st.World, sched[st.Phase], st.Epoch, st.Batch)
	}
	if err := os.CopyFS(other, os.DirFS(cut)); err != nil {
		t.Fatal(err)
	}
	for r, c := range wholeRanks {
		if err := c.Wait(); err != nil {
			t.Fatalf("uninterrupted run, rank %d: %v\n%s", r, err, wholeLogs[r])
		}
	}

	_, _, wait = launch("resumed", "train", "--resume", cut)
	if out, err := wait(); err != nil {
		t.Fatalf("resumed 2-rank run: %v\n%s", err, out)
	} else if !strings.Contains(out, "resuming ") {
		t.Fatalf("the resumed run does not say it resumes:\n%s", out)
	}
	a, b := finalWeights(t, whole), finalWeights(t, cut)
	for name, va := range a {
		if !slices.Equal(va, b[name]) {
			t.Errorf("%s: the interrupted and resumed 2-rank run differs from the uninterrupted one", name)
		}
	}
	if ea, eb := evalRecords(t, whole), evalRecords(t, cut); len(ea) == 0 || !slices.Equal(ea, eb) {
		t.Errorf("evaluations differ:\nuninterrupted:\n%s\nresumed:\n%s", strings.Join(ea, "\n"), strings.Join(eb, "\n"))
	}
	wm, _ := os.ReadFile(filepath.Join(whole, "test_metrics.json"))
	cm, _ := os.ReadFile(filepath.Join(cut, "test_metrics.json"))
	if len(wm) == 0 || string(wm) != string(cm) {
		t.Errorf("test metrics differ:\n%s\n%s", wm, cm)
	}
	t.Logf("interrupted at %s epoch %d batch %d (step %d) and resumed: %d tensors byte-identical to the uninterrupted run", sched[st.Phase], st.Epoch, st.Batch, st.Step, len(a))

	// The 2 ranks' mid-epoch checkpoint, resumed by one process.
	o, err := racnnCommand(t, "train", "--resume", other).CombinedOutput()
	if err != nil {
		t.Fatalf("one process resuming the 2-rank checkpoint: %v\n%s", err, o)
	}
	checkOtherWorldResume(t, other, string(o), st, sched, "2 ranks", "1 process")
}

// One process's checkpoint from the middle of an epoch, past the batch the
// epoch has under 2 ranks (each rank's epoch is half as long), resumed by 2
// ranks: they continue from the next epoch boundary and finish the run.
func TestDataParallelResumesOneProcessCheckpoint(t *testing.T) {
	cfg, _ := tinyRun(t)
	run := filepath.Join(t.TempDir(), "run")
	// 18 batches an epoch in one process, 9 under 2 ranks. The interrupt
	// is aimed at batch 11 of an epoch and must land before batch 18. At
	// the tiny config's 16 px a step takes about a millisecond and a quiet
	// machine ran 7 past the aim before the stop (clean-clone make test):
	// 64-px inputs make steps long enough, and an interrupt that still lands
	// too late is retried one epoch on (phase (a) has 4 epochs).
	args := []string{"train", "--config", cfg, "--out", run, "--data.batch_size", "4", "--train.log_every", "1",
		"--data.source_size", "64", "--model.input_sizes", "64,64,64", "--model.small_channels", "32,-1,64",
		"--train.scale_epochs", "4", "--train.cls_epochs", "1"}
	var st train.State
	var sched []train.Phase
	for epoch := 1; ; {
		cmd := racnnCommand(t, args...)
		var log strings.Builder
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitSteps(t, run, "scale", 18*epoch+11, func() { cmd.Process.Kill() }, &log)
		cmd.Process.Signal(syscall.SIGINT)
		if err := cmd.Wait(); err == nil || !strings.Contains(log.String(), "continue with: racnn train --resume") {
			t.Fatalf("interrupted run: %v\n%s", err, log.String())
		}
		st, sched = newestPosition(t, run)
		if st.World <= 1 && st.Phase == 0 && st.Batch > 9 && st.Batch < 18 {
			break
		}
		t.Logf("the interrupt landed at %s epoch %d batch %d, not past batch 9 of 18 of a phase (a) epoch; again one epoch on", sched[st.Phase], st.Epoch, st.Batch)
		epoch = st.Epoch + 1
		if st.Phase != 0 || epoch >= 4 {
			t.Fatalf("no interrupt landed past batch 9 of 18 of a phase (a) epoch (the last at %s epoch %d batch %d)", sched[st.Phase], st.Epoch, st.Batch)
		}
		args = []string{"train", "--resume", run}
	}
	cmds, logs := startRanks(t, 2, "train", "--resume", run)
	for r, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("rank %d resuming: %v\n%s", r, err, logs[r])
		}
	}
	checkOtherWorldResume(t, run, logs[0].String(), st, sched, "1 process", "2 ranks")
}
