package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/train"
)

// A run with ResNet-50 backbones (64-px scales, a few steps per phase)
// trains every phase, resumed from an interrupt inside a ranking phase it
// ends with the uninterrupted run's metrics, and its model evaluates and
// predicts.
func TestResNet50EndToEnd(t *testing.T) {
	extra := []string{"--data.source_size", "64", "--model.input_sizes", "64,64,64",
		"--model.apn.hidden", "8", "--data.batch_size", "4", "--train.max_steps_per_epoch", "2",
		"--train.scale_epochs", "1", "--train.cls_epochs", "1", "--train.rank_epochs", "2", "--train.log_every", "1"}
	cfg, dataRoot := tinyRun(t)
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	small := "  backbone: small\n  small_channels: [8, -1, 16]\n"
	if !strings.Contains(string(b), small) {
		t.Fatal("the tiny config's backbone lines changed")
	}
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(b), small, "  backbone: resnet50\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	run := interruptAndResumeConfig(t, cfg, extra, `"phase":"rank#1","phase_kind":"rank"`, train.PhaseRank)

	log, _ := os.ReadFile(filepath.Join(run, "log.jsonl"))
	for _, kind := range []train.PhaseKind{train.PhaseScale, train.PhasePretrain, train.PhaseCls, train.PhaseRank, train.PhaseFusion} {
		if !strings.Contains(string(log), `"phase_kind":"`+string(kind)+`"`) {
			t.Errorf("the run has no %s phase", kind)
		}
	}
	out, err := execute("eval", "--run", run, "--json")
	if err != nil {
		t.Fatalf("eval: %v\n%s", err, out)
	}
	var mt struct {
		N     int
		Scale []float64
	}
	if err := json.Unmarshal([]byte(out), &mt); err != nil || mt.N != 36 || len(mt.Scale) != 3 {
		t.Fatalf("eval --json: %v\n%s", err, out)
	}
	img := filepath.Join(dataRoot, "test", "class1", "000.png")
	out, err = execute("predict", img, "--run", run, "--json", "--topk", "2")
	if err != nil {
		t.Fatalf("predict: %v\n%s", err, out)
	}
	var preds []struct {
		Heads []struct{ Name string }
		Boxes [][4]float64
	}
	if err := json.Unmarshal([]byte(out), &preds); err != nil || len(preds) != 1 || len(preds[0].Heads) != 4 || len(preds[0].Boxes) != 2 {
		t.Fatalf("predict --json: %v\n%s", err, out)
	}
}
