package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/racnn/racnn/internal/checkpoint"
	"github.com/racnn/racnn/internal/train"
)

// shortRun makes the tiny config's schedule a few steps long: every phase
// but ranking and fusion, two steps an epoch.
var shortRun = []string{"--train.scale_epochs", "2", "--train.pretrain_epochs", "1", "--train.cls_epochs", "1",
	"--train.rank_epochs", "0", "--train.fusion_epochs", "0", "--train.max_steps_per_epoch", "2"}

func trainArgs(cfg, run string, extra ...string) []string {
	return append(append([]string{"train", "--config", cfg, "--out", run}, shortRun...), extra...)
}

// executeSplit is execute with stdout and stderr apart.
func executeSplit(args ...string) (stdout, stderr string, err error) {
	root := newRootCmd()
	var out, errb strings.Builder
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errb.String(), err
}

// mustFail runs the command in-process and wants an error containing want.
func mustFail(t *testing.T, want string, args ...string) {
	t.Helper()
	out, err := execute(args...)
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("racnn %s: error %v, want one line containing %q\n%s", strings.Join(args, " "), err, want, out)
	}
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := execute(args...)
	if err != nil {
		t.Fatalf("racnn %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// stepRecords returns the steps of a run log's step records, in order.
func stepRecords(t *testing.T, run string) []int64 {
	t.Helper()
	recs, err := train.ReadLog(filepath.Join(run, "log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var steps []int64
	for _, r := range recs {
		if r["kind"] == "step" {
			steps = append(steps, int64(r["step"].(float64)))
		}
	}
	return steps
}

// A start that fails -- bad data root, missing weights, NaN learning rate
// -- writes nothing, and what a kill before the first checkpoint leaves
// (config, empty log, empty checkpoints/, a temporary file) does not block
// the same command.
func TestFailedStartLeavesRunReusable(t *testing.T) {
	cfg, _ := tinyRun(t)
	run := filepath.Join(t.TempDir(), "run")
	for _, tc := range []struct{ want, key, value string }{
		{"no such file or folder", "--data.root", filepath.Join(t.TempDir(), "missing")},
		{"missing.pth", "--model.pretrained", filepath.Join(t.TempDir(), "missing.pth")},
		{"optim.cls.lr: NaN is not a finite number", "--optim.cls.lr", "NaN"},
	} {
		mustFail(t, tc.want, trainArgs(cfg, run, tc.key, tc.value)...)
		if _, err := os.Stat(run); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s %s: the failed start wrote %s", tc.key, tc.value, run)
		}
	}
	// What a kill before the first checkpoint leaves behind.
	os.MkdirAll(filepath.Join(run, "checkpoints"), 0o755)
	os.WriteFile(filepath.Join(run, "config.yaml"), []byte("data: {}\n"), 0o644)
	os.WriteFile(filepath.Join(run, "log.jsonl"), []byte(`{"kind":"step","step":1}`+"\n"), 0o644)
	tmp := filepath.Join(run, "checkpoints", ".step-00000002.safetensors.123.tmp")
	os.WriteFile(tmp, []byte("half a checkpoint"), 0o644)
	mustFail(t, "has no checkpoint yet: start it again with the command that started it", "train", "--resume", run)
	out := mustRun(t, trainArgs(cfg, run)...)
	if !strings.Contains(out, "removed "+tmp) {
		t.Errorf("no word of the removed temporary file:\n%s", out)
	}
	if _, err := os.Stat(tmp); err == nil {
		t.Errorf("%s is still there", tmp)
	}
	if b, _ := os.ReadFile(filepath.Join(run, "log.jsonl")); strings.HasPrefix(string(b), `{"kind":"step","step":1}`) {
		t.Errorf("the log kept the failed start's records")
	}
	mustFail(t, "already holds a run", trainArgs(cfg, run)...)
}

// A resume that changes a key shaping the run is refused by name, and a
// failed resume leaves config.yaml and the log as they were; keys that may
// change (data.workers) go through.
func TestResumeRefusesChangedKeysAndWritesNothing(t *testing.T) {
	cfg, _ := tinyRun(t)
	run := filepath.Join(t.TempDir(), "run")
	mustRun(t, trainArgs(cfg, run)...)
	conf, _ := os.ReadFile(filepath.Join(run, "config.yaml"))
	logb, _ := os.ReadFile(filepath.Join(run, "log.jsonl"))
	for _, tc := range [][]string{
		{"data.batch_size", "--data.batch_size", "3"},
		{"train.seed", "--train.seed", "99"},
		{"model.apn.hidden", "--model.apn.hidden", "32"},
		{"no such file or folder", "--data.root", filepath.Join(t.TempDir(), "moved")}, // may change, but must open
	} {
		mustFail(t, tc[0], "train", "--resume", run, tc[1], tc[2])
		c2, _ := os.ReadFile(filepath.Join(run, "config.yaml"))
		l2, _ := os.ReadFile(filepath.Join(run, "log.jsonl"))
		if string(c2) != string(conf) || string(l2) != string(logb) {
			t.Fatalf("--resume %s %s failed but rewrote config.yaml or log.jsonl", tc[1], tc[2])
		}
	}
	mustRun(t, "train", "--resume", run, "--data.workers", "1")
}

// A second writer of a run directory is refused with the holder's PID;
// after the holder is killed, a resume cuts the log back to its checkpoint
// so that every step is logged once, and the curves are drawn from it.
func TestSecondWriterRefusedAndKilledRunLogsEachStepOnce(t *testing.T) {
	cfg, _ := tinyRun(t)
	run := filepath.Join(t.TempDir(), "run")
	cmd := racnnCommand(t, "train", "--config", cfg, "--out", run, "--data.batch_size", "4", "--train.log_every", "1")
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// Wait until a checkpoint exists and steps after it are logged.
	deadline := time.Now().Add(60 * time.Second)
	for {
		ck, _ := filepath.Glob(filepath.Join(run, "checkpoints", "step-*.safetensors"))
		b, _ := os.ReadFile(filepath.Join(run, "log.jsonl"))
		if len(ck) > 0 && strings.Count(string(b), `"kind":"step"`) >= 12 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint in time:\n%s", log.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	holder := fmt.Sprintf("in use by racnn process %d", cmd.Process.Pid)
	mustFail(t, holder, "train", "--resume", run)
	mustFail(t, holder, "train", "--config", cfg, "--out", run)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	mustRun(t, "train", "--resume", run)
	steps := stepRecords(t, run)
	seen := map[int64]bool{}
	for i, s := range steps {
		if seen[s] || (i > 0 && s < steps[i-1]) {
			t.Fatalf("step %d logged twice after the kill and resume: %v", s, steps)
		}
		seen[s] = true
	}
	if _, err := os.Stat(filepath.Join(run, "curves.png")); err != nil {
		t.Fatal(err)
	}
}

// A damaged newest checkpoint is passed over for the one before it, and the
// resumed run ends as the uninterrupted one did.
func TestTruncatedNewestCheckpointResumesFromPrevious(t *testing.T) {
	cfg, _ := tinyRun(t)
	run := filepath.Join(t.TempDir(), "run")
	mustRun(t, trainArgs(cfg, run)...)
	want, _ := os.ReadFile(filepath.Join(run, "test_metrics.json"))
	ckpts, _ := filepath.Glob(filepath.Join(run, "checkpoints", "step-*.safetensors"))
	sort.Strings(ckpts)
	if len(ckpts) < 2 {
		t.Fatalf("checkpoints %v, want 2 (train.keep_last)", ckpts)
	}
	newest := ckpts[len(ckpts)-1]
	b, _ := os.ReadFile(newest)
	os.WriteFile(newest, b[:len(b)/2], 0o644)
	os.Remove(filepath.Join(run, "test_metrics.json"))
	out := mustRun(t, "train", "--resume", run)
	if !strings.Contains(out, "checkpoint "+newest+" cannot be read") || !strings.Contains(out, "resuming "+ckpts[len(ckpts)-2]) {
		t.Fatalf("resume did not say it passed over %s:\n%s", newest, out)
	}
	got, _ := os.ReadFile(filepath.Join(run, "test_metrics.json"))
	if len(want) == 0 || string(got) != string(want) {
		t.Fatalf("test metrics after the fallback:\n%s\nwant\n%s", got, want)
	}
}

// SIGTERM during a validation pass stops it within a batch: the run saves
// a checkpoint of the trained, not yet validated epoch and exits 130 well
// within 2 s; resumed, it validates and ends as an uninterrupted run.
func TestSIGTERMDuringValidation(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "data")
	writeTinySet(t, root, map[string]int{"train": 200, "test": 4})
	cfg := filepath.Join(dir, "tiny.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(tinyConfig, root)), 0o644)
	args := []string{"--train.max_steps_per_epoch", "1", "--train.eval_every", "1", "--data.val_fraction", "0.6",
		"--train.scale_epochs", "3", "--train.pretrain_epochs", "1", "--train.cls_epochs", "1", "--train.rank_epochs", "0", "--train.fusion_epochs", "0"}
	whole, cut := filepath.Join(dir, "whole"), filepath.Join(dir, "cut")
	mustRun(t, append([]string{"train", "--config", cfg, "--out", whole}, args...)...)

	cmd := racnnCommand(t, append([]string{"train", "--config", cfg, "--out", cut}, args...)...)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(60 * time.Second)
	for { // one step an epoch: once it is logged, the epoch is in validation
		b, _ := os.ReadFile(filepath.Join(cut, "log.jsonl"))
		if strings.Contains(string(b), `"kind":"step"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no step logged in time:\n%s", log.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	sent := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	took := time.Since(sent)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("SIGTERM: %v, want exit 130\n%s", err, log.String())
	}
	if took > 2*time.Second {
		t.Errorf("exited %v after SIGTERM, want within 2 s", took)
	}
	t.Logf("exited %v after SIGTERM", took)
	ckpts, _ := filepath.Glob(filepath.Join(cut, "checkpoints", "step-*.safetensors"))
	sort.Strings(ckpts)
	ck, st, err := train.LoadCheckpoint(ckpts[len(ckpts)-1])
	if err != nil {
		t.Fatal(err)
	}
	ck.Free()
	if st.Batch != 1 || st.Step != 1 {
		t.Fatalf("interrupt checkpoint at epoch %d batch %d step %d; want the first epoch trained (batch 1, step 1), not yet validated", st.Epoch, st.Batch, st.Step)
	}
	mustRun(t, "train", "--resume", cut)
	a, b := evalRecords(t, whole), evalRecords(t, cut)
	if len(a) == 0 || strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatalf("metrics differ:\nuninterrupted:\n%s\nresumed:\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
}

// A bad test image is found before training; the run with
// --data.on_bad_image skip on the same --out succeeds, and racnn eval
// takes the policy as a flag and from the environment and says how many
// images it skipped. A bad image that passes the header check surfaces in
// the final evaluation with the command that finishes the run.
func TestBadImagesInEverySplit(t *testing.T) {
	cfg, root := tinyRun(t)
	bad := filepath.Join(root, "test", "class1", "002.png")
	good, _ := os.ReadFile(bad)
	os.WriteFile(bad, []byte("not a png"), 0o644)
	run := filepath.Join(t.TempDir(), "run")
	mustFail(t, bad+": not a JPEG or PNG file", trainArgs(cfg, run)...)
	mustFail(t, "--data.on_bad_image skip", trainArgs(cfg, run)...)
	if _, err := os.Stat(run); err == nil {
		t.Fatal("the check before training wrote the run directory")
	}
	mustRun(t, trainArgs(cfg, run, "--data.on_bad_image", "skip")...)

	mustFail(t, bad, "eval", "--run", run, "--data.on_bad_image", "fail")
	out := mustRun(t, "eval", "--run", run)
	if !strings.Contains(out, "skipped 1 unreadable image") {
		t.Errorf("eval did not count the skipped image:\n%s", out)
	}
	t.Setenv("RACNN_DATA_ON_BAD_IMAGE", "fail")
	mustFail(t, bad, "eval", "--run", run)

	// A PNG cut short after its header passes the check and fails late.
	run2 := filepath.Join(t.TempDir(), "run2")
	os.WriteFile(bad, good[:len(good)/2], 0o644)
	t.Setenv("RACNN_DATA_ON_BAD_IMAGE", "")
	mustFail(t, "racnn train --resume "+run2+" --data.on_bad_image skip", trainArgs(cfg, run2)...)
	mustRun(t, "train", "--resume", run2, "--data.on_bad_image", "skip")
	if _, err := os.Stat(filepath.Join(run2, "test_metrics.json")); err != nil {
		t.Fatal(err)
	}
}

// predict over good and bad files prints every good result, names each bad
// one on its own line and fails at the end.
func TestPredictReportsEveryReadableImage(t *testing.T) {
	cfg, root := tinyRun(t)
	run := filepath.Join(t.TempDir(), "run")
	mustRun(t, trainArgs(cfg, run)...)
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.png")
	os.WriteFile(junk, []byte("junk"), 0o644)
	g1, g2 := filepath.Join(root, "test", "class0", "000.png"), filepath.Join(root, "test", "class2", "001.png")
	missing := filepath.Join(dir, "none.jpg")
	out, err := execute("predict", g1, junk, dir, missing, g2, "--run", run)
	if err == nil || !strings.Contains(err.Error(), "3 of 5 images could not be read") {
		t.Fatalf("error %v\n%s", err, out)
	}
	for _, want := range []string{g1 + " (32×32)", g2 + " (32×32)", "racnn: " + junk + ": not a JPEG or PNG", "racnn: " + dir + ": is a directory", "racnn: " + missing + ": no such file"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	stdout, stderr, err := executeSplit("predict", g1, junk, g2, "--run", run, "--json")
	var preds []map[string]any
	if err == nil || json.Unmarshal([]byte(stdout), &preds) != nil || len(preds) != 2 || !strings.Contains(stderr, junk) {
		t.Fatalf("--json: %v, %d predictions\nstdout:\n%s\nstderr:\n%s", err, len(preds), stdout, stderr)
	}
	mustFail(t, dir+": is a directory", "predict", dir, "--run", run)
}

// A checkpoint's metadata is validated, never trusted: an edited position
// (phase -1) makes a resume pass over that checkpoint for the one before
// it, and an edited config (data.source_size 20000) is a one-line error,
// not minutes and gigabytes of work.
func TestEditedCheckpointMetadataIsRefused(t *testing.T) {
	cfg, root := tinyRun(t)
	run := filepath.Join(t.TempDir(), "run")
	mustRun(t, trainArgs(cfg, run)...)
	ckpts, _ := filepath.Glob(filepath.Join(run, "checkpoints", "step-*.safetensors"))
	sort.Strings(ckpts)
	edit := func(path string, change func(*checkpoint.Checkpoint)) {
		ck, err := checkpoint.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		defer ck.Free()
		change(ck)
		if err := checkpoint.Save(path, ck); err != nil {
			t.Fatal(err)
		}
	}
	newest := ckpts[len(ckpts)-1]
	edit(newest, func(ck *checkpoint.Checkpoint) {
		ck.State = json.RawMessage(strings.Replace(string(ck.State), `"phase":`, `"phase":-1,"x":`, 1))
	})
	out := mustRun(t, "train", "--resume", run)
	if !strings.Contains(out, "checkpoint "+newest+" cannot be read") || !strings.Contains(out, "phase -1 outside the schedule") {
		t.Fatalf("resume did not pass over the edited checkpoint:\n%s", out)
	}
	best := filepath.Join(run, "best.safetensors")
	edit(best, func(ck *checkpoint.Checkpoint) { ck.Config.Data.SourceSize = 20000 })
	img := filepath.Join(root, "test", "class0", "000.png")
	mustFail(t, "data.source_size: 20000 must be between 8 and 4096", "predict", img, "--checkpoint", best)
}
