package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A run started at another run's checkpoint (--from) ends exactly as the
// same config trained from scratch: the ranking-off ablation forked from the
// full schedule's end of cls#1 (train.keep_phase_ends) logs the same
// validations, keeps the same model and scores the same on test. A fork
// whose config trained the skipped stretch differently is refused with one
// line and leaves no run directory.
func TestForkMatchesFromScratch(t *testing.T) {
	cfg, _ := tinyRun(t)
	dir := t.TempDir()
	full, scratch, forked := filepath.Join(dir, "full"), filepath.Join(dir, "scratch"), filepath.Join(dir, "forked")
	common := []string{"train", "--config", cfg, "--train.alternations", "2"}
	if out, err := execute(append(common, "--out", full, "--train.keep_phase_ends=true")...); err != nil {
		t.Fatalf("full run: %v\n%s", err, out)
	}
	for _, ph := range []string{"scale", "pretrain", "cls1", "rank1", "cls2", "rank2", "fusion"} {
		if _, err := os.Stat(filepath.Join(full, "checkpoints", "end-"+ph+".safetensors")); err != nil {
			t.Errorf("train.keep_phase_ends: %v", err)
		}
	}
	if out, err := execute(append(common, "--out", scratch, "--train.rank_epochs", "0")...); err != nil {
		t.Fatalf("ranking-off run: %v\n%s", err, out)
	}
	from := filepath.Join(full, "checkpoints", "end-cls1.safetensors")
	out, err := execute(append(common, "--out", forked, "--train.rank_epochs", "0", "--from", from)...)
	if err != nil {
		t.Fatalf("forked run: %v\n%s", err, out)
	}
	if !strings.Contains(out, "starting from "+from) {
		t.Errorf("the forked run does not say where it starts:\n%s", out)
	}
	a, b := evalRecords(t, scratch), evalRecords(t, forked)
	if len(a) < 4 || strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatalf("validations differ:\nfrom scratch:\n%s\nforked:\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	sm, _ := os.ReadFile(filepath.Join(scratch, "test_metrics.json"))
	fm, _ := os.ReadFile(filepath.Join(forked, "test_metrics.json"))
	if len(sm) == 0 || string(sm) != string(fm) {
		t.Fatalf("test metrics differ:\n%s\n%s", sm, fm)
	}

	ckpts, _ := filepath.Glob(filepath.Join(full, "checkpoints", "step-*.safetensors"))
	last := ckpts[len(ckpts)-1]
	for i, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"another seed", []string{"--from", from, "--train.rank_epochs", "0", "--train.seed", "6"}, "train.seed is 5 there and 6 here"},
		{"another cls optimiser", []string{"--from", from, "--optim.cls.lr", "0.01"}, "optim.cls.lr is 0.005 there and 0.01 here"},
		{"past the divergence", []string{"--from", filepath.Join(full, "checkpoints", "end-rank1.safetensors"), "--train.rank_epochs", "0"}, "phase 4 is rank#1 (1 epochs) there and cls#2 (3 epochs) here"},
		{"a finished run", []string{"--from", last}, "ends its run"},
		{"no such file", []string{"--from", filepath.Join(dir, "nope.safetensors")}, "no such file"},
		{"with --resume", []string{"--from", from, "--resume", full}, "give one of them"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := filepath.Join(dir, fmt.Sprintf("bad%d", i))
			out, err := execute(append(common, append([]string{"--out", bad}, tc.args...)...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line with %q\n%s", err, tc.want, out)
			}
			if _, serr := os.Stat(bad); serr == nil {
				t.Errorf("a refused fork left %s behind", bad)
			}
		})
	}
}
