package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/evaluate"
	"github.com/racnn/racnn/internal/train"
)

// A run with ResNet-50 backbones trains every phase of the schedule (the
// ranking phase through its gate), resumed from an interrupt inside the
// ranking phase it ends with the uninterrupted run's metrics and weights,
// and its model evaluates and predicts. The run is as small as ResNet-50
// allows: 40-px inputs give layer4 (stride 32) a 2×2 map, the smallest the
// APNs accept (model.Config.Validate), and keep every batch norm of a
// batch of 2 normalising more than two values (at 8 px the last stages
// are 1×1 and SGD diverged); 12 training images, 2 steps per epoch.
func TestResNet50EndToEnd(t *testing.T) {
	dir := t.TempDir()
	dataRoot := filepath.Join(dir, "data")
	writeTinySet(t, dataRoot, map[string]int{"train": 4, "test": 2})
	tiny := fmt.Sprintf(tinyConfig, dataRoot)
	small := "  backbone: small\n  small_channels: [8, -1, 16]\n"
	if !strings.Contains(tiny, small) {
		t.Fatal("the tiny config's backbone lines changed")
	}
	cfg := filepath.Join(dir, "resnet50.yaml")
	if err := os.WriteFile(cfg, []byte(strings.Replace(tiny, small, "  backbone: resnet50\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	extra := []string{"--data.source_size", "40", "--model.input_sizes", "40,40,40", "--model.apn.hidden", "8",
		"--data.batch_size", "2", "--train.max_steps_per_epoch", "2", "--train.log_every", "1",
		"--train.scale_epochs", "1", "--train.cls_epochs", "1", "--train.rank_epochs", "2",
		// Plain SGD for the backbones' phases: no optimiser state to write
		// beside the 3 × 94 MB of weights in every checkpoint, which is
		// most of this test's time.
		"--optim.scale.name", "sgd", "--optim.scale.lr", "0.001", "--optim.scale.momentum", "0",
		"--optim.cls.name", "sgd", "--optim.cls.lr", "0.001", "--optim.cls.momentum", "0", "--optim.cls.head_lr_mult", "1"}
	run := interruptAndResumeConfig(t, cfg, extra, `"phase":"rank#1","phase_kind":"rank"`, train.PhaseRank)

	log, err := os.ReadFile(filepath.Join(run, "log.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []train.PhaseKind{train.PhaseScale, train.PhasePretrain, train.PhaseCls, train.PhaseRank, train.PhaseFusion} {
		if !strings.Contains(string(log), `"phase_kind":"`+string(kind)+`"`) {
			t.Errorf("the run has no %s phase", kind)
		}
	}
	if !strings.Contains(string(log), `"kind":"rank_end"`) {
		t.Error("the ranking phase ended without the gate's decision (train.rank_rollback)")
	}

	// racnn eval on the run reads the kept model's test accuracy as the
	// run's own final evaluation did.
	out, err := execute("eval", "--run", run, "--json")
	if err != nil {
		t.Fatalf("eval: %v\n%s", err, out)
	}
	var got, want evaluate.Metrics
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("eval --json: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(run, "test_metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if got.N != 6 || len(got.Scale) != 3 || !slices.Equal(got.Scale, want.Scale) || got.Fused != want.Fused ||
		len(got.MeanIoU) != 2 || math.Abs(got.MeanIoU[0]-want.MeanIoU[0]) > 1e-4 {
		t.Fatalf("eval --json:\n%s\nthe run's test_metrics.json:\n%s", out, b)
	}

	img := filepath.Join(dataRoot, "test", "class1", "000.png")
	out, err = execute("predict", img, "--run", run, "--json", "--topk", "2")
	if err != nil {
		t.Fatalf("predict: %v\n%s", err, out)
	}
	var preds []struct {
		Heads []struct {
			Name string
			TopK []struct {
				Name string
				Prob float64
			}
		}
		Boxes [][4]float64
	}
	if err := json.Unmarshal([]byte(out), &preds); err != nil || len(preds) != 1 {
		t.Fatalf("predict --json: %v\n%s", err, out)
	}
	p := preds[0]
	if len(p.Heads) != 4 || p.Heads[3].Name != "fused" || len(p.Boxes) != 2 {
		t.Fatalf("prediction %+v: want 4 heads (the last fused) and 2 boxes", p)
	}
	for _, h := range p.Heads {
		if len(h.TopK) != 2 || !(h.TopK[0].Prob >= h.TopK[1].Prob) || h.TopK[0].Prob+h.TopK[1].Prob > 1+1e-6 || h.TopK[1].Prob < 0 {
			t.Errorf("head %s: top-2 %+v, want two probabilities in decreasing order", h.Name, h.TopK)
		}
	}
	for _, bx := range p.Boxes {
		if bx[0] < -1 || bx[1] < -1 || bx[2] > 33 || bx[3] > 33 || bx[2] <= bx[0] || bx[3] <= bx[1] {
			t.Errorf("box %v is not inside the 32×32 image", bx)
		}
	}
}
