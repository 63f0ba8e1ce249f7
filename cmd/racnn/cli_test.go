package main

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/evaluate"
	"github.com/racnn/racnn/internal/torch"
)

// writeTinySet writes an image-folder data set of 32×32 PNGs: three classes
// told apart by the colour of a 10×10 square at a random place on a noisy
// grey background, with the square's box in boxes.txt.
func writeTinySet(t *testing.T, root string, perClass map[string]int) {
	t.Helper()
	colours := []color.RGBA{{220, 40, 40, 255}, {40, 200, 40, 255}, {40, 60, 220, 255}}
	r := rand.New(rand.NewPCG(3, 4))
	for split, n := range perClass {
		var boxes strings.Builder
		for c, col := range colours {
			dir := filepath.Join(root, split, fmt.Sprintf("class%d", c))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				img := image.NewRGBA(image.Rect(0, 0, 32, 32))
				for p := 0; p < len(img.Pix); p += 4 {
					g := uint8(100 + r.IntN(40))
					img.Pix[p], img.Pix[p+1], img.Pix[p+2], img.Pix[p+3] = g, g, g, 255
				}
				x0, y0 := r.IntN(22), r.IntN(22)
				for y := y0; y < y0+10; y++ {
					for x := x0; x < x0+10; x++ {
						img.Set(x, y, col)
					}
				}
				name := fmt.Sprintf("class%d/%03d.png", c, i)
				f, err := os.Create(filepath.Join(root, split, name))
				if err != nil {
					t.Fatal(err)
				}
				png.Encode(f, img)
				f.Close()
				fmt.Fprintf(&boxes, "%s %d %d 10 10\n", name, x0, y0)
			}
		}
		os.WriteFile(filepath.Join(root, split, "boxes.txt"), []byte(boxes.String()), 0o644)
	}
}

const tinyConfig = `
data:
  kind: folder
  root: %s
  source_size: 32
  batch_size: 8
  workers: 2
  flip: false
  mean: [0.5, 0.5, 0.5]
  std: [0.25, 0.25, 0.25]
  val_fraction: 0.2
model:
  backbone: small
  small_channels: [8, -1, 16]
  scales: 3
  input_sizes: [16, 16, 16]
  apn:
    head: softargmax  # the demo's pre-training path, end to end and through resume
    inside: false
    pretrain_refine: true
    pretrain_loss: l1
    hidden: 16
    min_half: 0.15
    pretrain_half: 0.25
train:
  seed: 5
  scale_epochs: 8
  pretrain_epochs: 1
  alternations: 1
  cls_epochs: 3
  rank_epochs: 1
  fusion_epochs: 1
  log_every: 5
optim:
  scale: {name: adam, lr: 0.005, head_lr_mult: 1, schedule: constant}
  cls: {name: adam, lr: 0.005, head_lr_mult: 4, schedule: constant}
  apn: {name: adam, lr: 0.0001, head_lr_mult: 1, schedule: constant}
  fusion: {name: adam, lr: 0.01, head_lr_mult: 1, schedule: constant}
runtime:
  device: cpu
  threads: 1
`

// tinyRun writes the data set and a config and returns the config's path.
func tinyRun(t *testing.T) (cfgPath, dataRoot string) {
	t.Helper()
	dir := t.TempDir()
	dataRoot = filepath.Join(dir, "data")
	writeTinySet(t, dataRoot, map[string]int{"train": 30, "test": 12})
	cfgPath = filepath.Join(dir, "tiny.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(tinyConfig, dataRoot)), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfgPath, dataRoot
}

func TestTrainEvalPredictEndToEnd(t *testing.T) {
	cfg, dataRoot := tinyRun(t)
	run := filepath.Join(t.TempDir(), "run")
	live := torch.Live()
	defer func() {
		if n := torch.Live(); n != live {
			t.Errorf("train, eval and predict leaked %d tensor handles", n-live)
		}
	}()
	out, err := execute("train", "--config", cfg, "--out", run)
	if err != nil {
		t.Fatalf("train: %v\n%s", err, out)
	}
	for _, f := range []string{"config.yaml", "log.jsonl", "best.safetensors", "curves.png", "test_metrics.json"} {
		if _, err := os.Stat(filepath.Join(run, f)); err != nil {
			t.Errorf("run directory lacks %s", f)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(run, "log.jsonl")); !strings.Contains(string(b), `"phase":"fusion","phase_kind":"fusion"`) {
		t.Error("log.jsonl has no fusion phase (train.fusion_epochs 1)")
	}
	if m, _ := filepath.Glob(filepath.Join(run, "checkpoints", "*.safetensors")); len(m) == 0 || len(m) > 2 {
		t.Errorf("checkpoints %v, want 1..keep_last(2)", m)
	}
	// The colours are easy: the kept model must have learned them.
	out, err = execute("eval", "--run", run, "--json")
	if err != nil {
		t.Fatalf("eval: %v\n%s", err, out)
	}
	var mt evaluate.Metrics
	if err := json.Unmarshal([]byte(out), &mt); err != nil {
		t.Fatalf("eval --json: %v\n%s", err, out)
	}
	if mt.N != 36 || len(mt.Scale) != 3 || mt.Scale[0] < 0.9 || mt.Fused < 0.9 {
		t.Fatalf("eval metrics %+v, want 36 images and >= 90 %% at scale 1 and fused", mt)
	}
	if len(mt.MeanIoU) != 2 || mt.WithBox != 36 {
		t.Fatalf("box metrics %+v", mt)
	}
	out, err = execute("eval", "--run", run)
	if err != nil || !strings.Contains(out, "scales 1+2+3 (fused)") || !strings.Contains(out, "mean IoU") {
		t.Fatalf("eval table: %v\n%s", err, out)
	}

	img := filepath.Join(dataRoot, "test", "class1", "000.png")
	viz := filepath.Join(t.TempDir(), "att.png")
	out, err = execute("predict", img, "--run", run, "--json", "--topk", "2", "--viz", viz)
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
	if err := json.Unmarshal([]byte(out), &preds); err != nil {
		t.Fatalf("predict --json: %v\n%s", err, out)
	}
	p := preds[0]
	if len(p.Heads) != 4 || p.Heads[3].Name != "fused" || len(p.Heads[0].TopK) != 2 || len(p.Boxes) != 2 {
		t.Fatalf("prediction %+v", p)
	}
	if p.Heads[3].TopK[0].Name != "class1" {
		t.Errorf("fused top-1 %q, want class1", p.Heads[3].TopK[0].Name)
	}
	for _, b := range p.Boxes {
		if b[0] < -1 || b[1] < -1 || b[2] > 33 || b[3] > 33 || b[2] <= b[0] {
			t.Errorf("box %v is not inside the 32×32 image", b)
		}
	}
	f, err := os.Open(viz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if im, err := png.Decode(f); err != nil || im.Bounds().Dx() < 256 {
		t.Fatalf("--viz picture: %v", err)
	}
}

// Bad inputs give one line, a non-zero exit (an error from Execute) and
// leave no partial files.
func TestBadInputsAreOneLineErrors(t *testing.T) {
	cfg, dataRoot := tinyRun(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	cfgBody, _ := os.ReadFile(cfg)
	unknown := write("unknown.yaml", strings.Replace(string(cfgBody), "  seed: 5", "  sede: 5", 1))
	wrongType := write("type.yaml", strings.Replace(string(cfgBody), "  seed: 5", "  seed: five", 1))
	noData := write("nodata.yaml", strings.Replace(string(cfgBody), dataRoot, filepath.Join(dir, "missing"), 1))
	badImgRoot := filepath.Join(dir, "bad")
	writeTinySet(t, badImgRoot, map[string]int{"train": 10, "test": 3})
	os.WriteFile(filepath.Join(badImgRoot, "train", "class0", "001.png"), []byte("not a png"), 0o644)
	badImg := write("badimg.yaml", strings.Replace(string(cfgBody), dataRoot, badImgRoot, 1))

	// A good run to point eval at with another architecture's data.
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing config", []string{"train", "--config", filepath.Join(dir, "nope.yaml")}, "nope.yaml: no such file"},
		{"unknown key", []string{"train", "--config", unknown}, "unknown key train.sede (did you mean train.seed?)"},
		{"wrong type", []string{"train", "--config", wrongType}, "train.seed"},
		{"bad flag value", []string{"train", "--config", cfg, "--model.scales", "4"}, "model.scales: must be 1, 2 or 3"},
		{"missing data folder", []string{"train", "--config", noData}, "missing"},
		{"fp16 on cpu", []string{"train", "--config", cfg, "--runtime.precision", "fp16"}, "runtime.precision: fp16 needs a CUDA device"},
		{"unreadable image", []string{"train", "--config", badImg}, "001.png"},
		{"missing checkpoint", []string{"eval", "--checkpoint", filepath.Join(dir, "none.safetensors")}, "none.safetensors"},
		{"not a checkpoint", []string{"eval", "--checkpoint", cfg}, "tiny.yaml"},
		{"missing image", []string{"predict", filepath.Join(dir, "none.jpg"), "--checkpoint", cfg}, "none.jpg: no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			run := filepath.Join(t.TempDir(), "run")
			args := append(tc.args, "--out", run)
			if tc.args[0] != "train" {
				args = tc.args
			}
			out, err := execute(args...)
			if err == nil {
				t.Fatalf("no error; output:\n%s", out)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Fatalf("error %q, want one line containing %q", msg, tc.want)
			}
			if strings.Contains(out, "Usage:") {
				t.Fatalf("printed usage for a user mistake:\n%s", out)
			}
			t.Logf("%s", msg)
			if m, _ := filepath.Glob(filepath.Join(run, "checkpoints", "*")); len(m) > 0 {
				t.Fatalf("left checkpoints behind: %v", m)
			}
			if m, _ := filepath.Glob(filepath.Join(run, "*.tmp*")); len(m) > 0 {
				t.Fatalf("left temporary files: %v", m)
			}
		})
	}
}

// A bf16 run (autocast on the CPU) learns the tiny task as the fp32 run of
// TestTrainEvalPredictEndToEnd does, evaluates in bf16 by default, and its
// model read in fp32 (--precision fp32) gives about the same accuracy.
func TestBF16RunLearnsAsFP32(t *testing.T) {
	cfg, _ := tinyRun(t)
	run := filepath.Join(t.TempDir(), "run")
	if out, err := execute("train", "--config", cfg, "--out", run, "--runtime.precision", "bf16"); err != nil {
		t.Fatalf("train: %v\n%s", err, out)
	}
	metrics := func(args ...string) evaluate.Metrics {
		out, err := execute(append([]string{"eval", "--run", run, "--json"}, args...)...)
		if err != nil {
			t.Fatalf("eval %v: %v\n%s", args, err, out)
		}
		var mt evaluate.Metrics
		if err := json.Unmarshal([]byte(out), &mt); err != nil {
			t.Fatalf("eval --json: %v\n%s", err, out)
		}
		return mt
	}
	bf16, fp32 := metrics(), metrics("--precision", "fp32")
	if bf16.N != 36 || bf16.Scale[0] < 0.9 || bf16.Fused < 0.9 {
		t.Fatalf("bf16 run's metrics %+v, want >= 90 %% at scale 1 and fused, as the fp32 run", bf16)
	}
	if d := bf16.Fused - fp32.Fused; d > 2.0/36 || d < -2.0/36 {
		t.Fatalf("fused accuracy %.3f in bf16, %.3f read in fp32: more than 2 images apart", bf16.Fused, fp32.Fused)
	}
	if b, _ := os.ReadFile(filepath.Join(run, "config.yaml")); !strings.Contains(string(b), "precision: bf16") {
		t.Fatal("the run's config.yaml does not record runtime.precision bf16")
	}
}
