package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func writeYAML(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsValidate(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestPrecedenceFlagEnvFileDefault(t *testing.T) {
	file := writeYAML(t, "train:\n  seed: 7\n  rank_margin: 0.2\ndata:\n  batch_size: 3\n  root: /from/file\n")
	t.Setenv("RACNN_TRAIN_SEED", "8")
	t.Setenv("RACNN_DATA_ROOT", "/from/env")
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	AddFlags(fs)
	if err := fs.Parse([]string{"--data.root=/from/flag", "--model.input_sizes=400,200,200"}); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file, fs)
	if err != nil {
		t.Fatal(err)
	}
	if c.Data.Root != "/from/flag" { // flag beats env and file
		t.Errorf("data.root %q", c.Data.Root)
	}
	if c.Train.Seed != 8 { // env beats file
		t.Errorf("train.seed %d", c.Train.Seed)
	}
	if c.Train.RankMargin != 0.2 || c.Data.BatchSize != 3 { // file beats default
		t.Errorf("file values %g %d", c.Train.RankMargin, c.Data.BatchSize)
	}
	if c.Model.Backbone != "vgg19" { // default
		t.Errorf("backbone %q", c.Model.Backbone)
	}
	if got := c.Model.InputSizes; len(got) != 3 || got[0] != 400 || got[2] != 200 {
		t.Errorf("input sizes %v", got)
	}
}

func TestEnvListValue(t *testing.T) {
	t.Setenv("RACNN_MODEL_INPUT_SIZES", "300,150,150")
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Model.InputSizes; len(got) != 3 || got[0] != 300 || got[1] != 150 {
		t.Fatalf("input sizes %v", got)
	}
}

// What internal/model registers, in part: this package's tests do not link
// it (internal/model's TestConfigKnowsEveryBackbone checks the real list).
func init() { RegisterBackbones("vgg16", "vgg19", "small", "small_bn", "resnet50") }

func TestErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		name, yaml, env, want string
	}{
		{"unknown key", "train:\n  sede: 3\n", "", "unknown key train.sede (did you mean train.seed?)"},
		{"unknown section", "trian:\n  seed: 3\n", "", "unknown key trian"},
		{"wrong type", "train:\n  seed: abc\n", "", "train.seed"},
		{"bad enum", "model:\n  backbone: resnet18\n", "", `model.backbone: "resnet18" is not one of`},
		{"bad value", "data:\n  batch_size: 0\n", "", "data.batch_size: must be at least 1"},
		{"bad scale phase", "train:\n  scale_phase: every\n", "", `train.scale_phase: "every" is not one of`},
		{"bad peak", "model:\n  apn:\n    pretrain_peak: max\n", "", `model.apn.pretrain_peak: "max" is not one of`},
		{"bad head", "model:\n  apn:\n    head: conv\n", "", `model.apn.head: "conv" is not one of`},
		{"wrong type refine", "model:\n  apn:\n    pretrain_refine: maybe\n", "", "model.apn.pretrain_refine"},
		{"bad scale optimiser", "optim:\n  scale:\n    lr: -1\n", "", "optim.scale.lr: must be positive"},
		{"bad rank p-value", "train:\n  rank_keep_p: 0\n", "", "train.rank_keep_p: must be in (0, 1]"},
		{"not yaml", "train: [\n", "", "not valid YAML"},
		{"bad precision", "runtime:\n  precision: fp8\n", "", `runtime.precision: "fp8" is not one of fp32, bf16, fp16`},
		{"fp16 on cpu", "runtime:\n  device: cpu\n  precision: fp16\n", "", "runtime.precision: fp16 needs a CUDA device"},
		{"bad loss scale", "runtime:\n  loss_scale: static\n", "", `runtime.loss_scale: "static" is not one of auto, dynamic, off`},
		{"bad loss scale init", "runtime:\n  loss_scale_init: 1e40\n", "", "runtime.loss_scale_init: must be positive and finite in float32"},
		{"bad loss scale interval", "runtime:\n  loss_scale_interval: 0\n", "", "runtime.loss_scale_interval: must be at least 1"},
		{"unknown env", "", "RACNN_TRAIN_SEDE", "RACNN_TRAIN_SEDE names no config key (did you mean RACNN_TRAIN_SEED?)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := ""
			if tc.yaml != "" {
				file = writeYAML(t, tc.yaml)
			}
			if tc.env != "" {
				t.Setenv(tc.env, "1")
			}
			_, err := Load(file, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error: %q", err)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil); err == nil || !strings.Contains(err.Error(), "nope.yaml: no such file") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestResolvedRoundTrip(t *testing.T) {
	c := Default()
	c.Train.Seed = 42
	c.Model.SmallChannels = []int{8, -1, 16}
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := c.WriteFile(p); err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	AddFlags(fs)
	if err := fs.Parse([]string{"--runtime.device=cuda"}); err != nil {
		t.Fatal(err)
	}
	got, err := LoadResolved(p, fs)
	if err != nil {
		t.Fatal(err)
	}
	if got.Train.Seed != 42 || len(got.Model.SmallChannels) != 3 || got.Runtime.Device != "cuda" {
		t.Fatalf("resolved %+v", got)
	}
}

// The shipped configs must load as they are.
func TestShippedConfigsLoad(t *testing.T) {
	files, _ := filepath.Glob("../../configs/*.yaml")
	if len(files) < 3 {
		t.Fatalf("found %d configs", len(files))
	}
	for _, f := range files {
		c, err := Load(f, nil)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if filepath.Base(f) == "cub.yaml" && (c.Model.Backbone != "vgg19" || c.Model.InputSizes[0] != 448 || c.Train.RankMargin != 0.05) {
			t.Errorf("cub.yaml is not the paper's setup: %+v", c.Model)
		}
	}
}

// NaN passes every range comparison, so it must be refused by name: a NaN
// data.val_fraction once made a 3-image validation split.
func TestNonFiniteNumbersAreRefused(t *testing.T) {
	cases := []struct{ yaml, env, flag, want string }{
		{yaml: "data:\n  val_fraction: .nan\n", want: "data.val_fraction: NaN is not a finite number"},
		{yaml: "data:\n  val_fraction: NaN\n", want: "data.val_fraction: NaN is not a finite number"},
		{env: "RACNN_OPTIM_CLS_LR=NaN", want: "optim.cls.lr: NaN is not a finite number"},
		{flag: "--train.rank_margin=+Inf", want: "train.rank_margin: +Inf is not a finite number"},
		{flag: "--model.apn.k=-inf", want: "model.apn.k: -Inf is not a finite number"},
		{yaml: "data:\n  std: [0.2, .inf, 0.2]\n", want: "data.std: +Inf is not a finite number"},
		{flag: "--data.mean=0.5,NaN,0.5", want: `"NaN" is not a finite number`},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			file := ""
			if tc.yaml != "" {
				file = writeYAML(t, tc.yaml)
			}
			if tc.env != "" {
				k, v, _ := strings.Cut(tc.env, "=")
				t.Setenv(k, v)
			}
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			AddFlags(fs)
			var err error
			if tc.flag != "" {
				err = fs.Parse([]string{tc.flag})
			}
			if err == nil {
				_, err = Load(file, fs)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// A list key takes the spellings the YAML files and --help-config show.
func TestListSpellings(t *testing.T) {
	for _, s := range []string{"112,64,64", "[112,64,64]", "[112, 64, 64]", "112 64 64", "[112 64 64]"} {
		fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
		AddFlags(fs)
		if err := fs.Parse([]string{"--model.input_sizes", s, "--data.mean", strings.ReplaceAll(strings.ReplaceAll(s, "112", "0.5"), "64", "0.25")}); err != nil {
			t.Fatalf("flag %q: %v", s, err)
		}
		c, err := Load("", fs)
		if err != nil {
			t.Fatalf("flag %q: %v", s, err)
		}
		if got := c.Model.InputSizes; len(got) != 3 || got[0] != 112 || got[1] != 64 || got[2] != 64 {
			t.Errorf("flag %q: input sizes %v", s, got)
		}
		if got := c.Data.Mean; len(got) != 3 || got[0] != 0.5 || got[2] != 0.25 {
			t.Errorf("flag %q: mean %v", s, got)
		}
		t.Setenv("RACNN_MODEL_INPUT_SIZES", s)
		if c, err = Load("", nil); err != nil || len(c.Model.InputSizes) != 3 || c.Model.InputSizes[1] != 64 {
			t.Errorf("environment %q: %v %v", s, c.Model.InputSizes, err)
		}
	}
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	AddFlags(fs)
	err := fs.Parse([]string{"--model.input_sizes", "112,6.5,64"})
	if err == nil || !strings.Contains(err.Error(), `"6.5" is not a whole number`) {
		t.Fatalf("bad list: %v", err)
	}
}

func TestPrecisionKeys(t *testing.T) {
	c := Default()
	if r := c.Runtime; r.Precision != FP32 || r.LossScale != "auto" || r.LossScaleInit != 65536 || r.LossScaleInterval != 2000 || !r.TF32 || !r.CuDNNBenchmark {
		t.Fatalf("runtime defaults %+v", r)
	}
	for _, tc := range []struct {
		precision, scale string
		want             bool
	}{{FP32, "auto", false}, {BF16, "auto", false}, {FP16, "auto", true}, {FP16, "off", false}, {FP32, "dynamic", true}} {
		r := Runtime{Precision: tc.precision, LossScale: tc.scale}
		if r.UsesLossScale() != tc.want {
			t.Errorf("precision %s, loss_scale %s: UsesLossScale %v", tc.precision, tc.scale, !tc.want)
		}
	}
	c, err := Load(writeYAML(t, "runtime:\n  device: cuda\n  precision: fp16\n  tf32: false\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Runtime.Precision != FP16 || c.Runtime.TF32 || !c.Runtime.UsesLossScale() {
		t.Fatalf("loaded %+v", c.Runtime)
	}
}

// Sizes and counts have upper bounds too: a checkpoint's config is read
// through Validate, and an edited one must not make racnn allocate gigabytes.
func TestSizesAreBounded(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"data:\n  source_size: 20000\n", "data.source_size: 20000 must be between 8 and 4096"},
		{"data:\n  resize_size: 100000\n", "data.resize_size"},
		{"data:\n  batch_size: 100000000\n", "data.batch_size"},
		{"model:\n  backbone: small\n  small_channels: [8, -1, 1000000]\n", "model.small_channels"},
		{"model:\n  apn:\n    hidden: 10000000\n", "model.apn.hidden"},
	} {
		_, err := FromYAML([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
