// Package config is racnn's typed configuration: defaults, YAML files,
// RACNN_* environment variables and command-line flags (in increasing
// precedence), strict about unknown keys and bad values.
package config

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Config is everything a run needs. Its resolved form is written next to
// every checkpoint, so a run can be reproduced and resumed.
type Config struct {
	Data    Data    `mapstructure:"data" yaml:"data"`
	Model   Model   `mapstructure:"model" yaml:"model"`
	Train   Train   `mapstructure:"train" yaml:"train"`
	Optim   Optim   `mapstructure:"optim" yaml:"optim"`
	Runtime Runtime `mapstructure:"runtime" yaml:"runtime"`
}

// Data says where the images are and how they become tensors.
type Data struct {
	Kind        string    `mapstructure:"kind" yaml:"kind"`                 // cub | dogs | cars | folder
	Root        string    `mapstructure:"root" yaml:"root"`                 // the data set's folder, in its native layout
	SourceSize  int       `mapstructure:"source_size" yaml:"source_size"`   // side of the source image the APNs crop from
	ResizeSize  int       `mapstructure:"resize_size" yaml:"resize_size"`   // shorter side before the source crop (0: = source_size)
	BatchSize   int       `mapstructure:"batch_size" yaml:"batch_size"`     // images per step
	Workers     int       `mapstructure:"workers" yaml:"workers"`           // decoding goroutines
	Prefetch    int       `mapstructure:"prefetch" yaml:"prefetch"`         // batches decoded ahead
	Flip        bool      `mapstructure:"flip" yaml:"flip"`                 // random horizontal flips in training
	Mean        []float64 `mapstructure:"mean" yaml:"mean"`                 // per-channel normalisation
	Std         []float64 `mapstructure:"std" yaml:"std"`                   //
	ValFraction float64   `mapstructure:"val_fraction" yaml:"val_fraction"` // share of train held out to pick the best model
	OnBadImage  string    `mapstructure:"on_bad_image" yaml:"on_bad_image"` // fail | skip
	Limit       int       `mapstructure:"limit" yaml:"limit"`               // use at most this many items per split (0: all)
}

// Model is the RA-CNN architecture.
type Model struct {
	Backbone      string  `mapstructure:"backbone" yaml:"backbone"`             // one internal/model builds (RegisterBackbones): vgg19, resnet50, small, ...
	FreezeBN      bool    `mapstructure:"freeze_bn" yaml:"freeze_bn"`           // backbone batch norms keep their running statistics, weight and bias in every phase
	SmallChannels []int   `mapstructure:"small_channels" yaml:"small_channels"` // for backbone small: conv widths, -1 = 2×2 max-pool
	Pretrained    string  `mapstructure:"pretrained" yaml:"pretrained"`         // ImageNet weights loaded into every scale: torchvision .pth, or timm safetensors for a ResNet
	NumClasses    int     `mapstructure:"num_classes" yaml:"num_classes"`       // 0: from the data set
	Scales        int     `mapstructure:"scales" yaml:"scales"`                 // 1 (plain CNN baseline), 2 or 3
	InputSizes    []int   `mapstructure:"input_sizes" yaml:"input_sizes"`       // input side of each scale (paper: 448, 224, 224)
	FeatureScale  float64 `mapstructure:"feature_scale" yaml:"feature_scale"`   // pooled features × this (released model: 0.1)
	ChannelsLast  bool    `mapstructure:"channels_last" yaml:"channels_last"`   // NHWC convolutions
	APN           APN     `mapstructure:"apn" yaml:"apn"`
}

// APN is the attention proposal network and the crop.
type APN struct {
	Hidden         int     `mapstructure:"hidden" yaml:"hidden"`                   // FC width (released model: 1024)
	Head           string  `mapstructure:"head" yaml:"head"`                       // fc (paper: two FC layers) | softargmax (centre from a heat map over the cells)
	Pool           int     `mapstructure:"pool" yaml:"pool"`                       // fc head: max-pool side before the FC (released model: 2; 1: none)
	Mode           string  `mapstructure:"mode" yaml:"mode"`                       // boxcar (paper) | grid (differentiable grid)
	K              float64 `mapstructure:"k" yaml:"k"`                             // boxcar sharpness per unit of the shorter side
	MinHalf        float64 `mapstructure:"min_half" yaml:"min_half"`               // smallest half-side, fraction of the shorter side
	MaxHalf        float64 `mapstructure:"max_half" yaml:"max_half"`               // largest half-side
	Inside         bool    `mapstructure:"inside" yaml:"inside"`                   // keep boxes inside the image
	PretrainHalf   float64 `mapstructure:"pretrain_half" yaml:"pretrain_half"`     // half-side of the pre-training squares (paper: 0.25)
	PretrainPeak   string  `mapstructure:"pretrain_peak" yaml:"pretrain_peak"`     // centre the squares on the highest cell | the square holding the most response
	PretrainWindow float64 `mapstructure:"pretrain_window" yaml:"pretrain_window"` // square peak: side of the window summed over (0: the square's own)
	PretrainRefine bool    `mapstructure:"pretrain_refine" yaml:"pretrain_refine"` // re-centre each square on the next scale's peak inside it
	PretrainLoss   string  `mapstructure:"pretrain_loss" yaml:"pretrain_loss"`     // mse | l1 (less pulled by the targets that miss the object)
}

// Train is the schedule of the paper: (a) scale-1 fine-tuning, (b) APN
// pre-training, (c) alternating classification and ranking phases.
type Train struct {
	Seed             uint64  `mapstructure:"seed" yaml:"seed"`
	ScaleEpochs      int     `mapstructure:"scale_epochs" yaml:"scale_epochs"`               // (a) cross-entropy, APNs not yet trained
	ScalePhase       string  `mapstructure:"scale_phase" yaml:"scale_phase"`                 // (a) trains scale1 (then copied into the finer scales) | all
	PretrainEpochs   int     `mapstructure:"pretrain_epochs" yaml:"pretrain_epochs"`         // (b) APNs regress the peak-response squares
	FreezeScale1     bool    `mapstructure:"freeze_scale1" yaml:"freeze_scale1"`             // (c) keep scale 1 as (a) left it: the APNs read its features
	Alternations     int     `mapstructure:"alternations" yaml:"alternations"`               // (c) rounds of classification + ranking
	ClsEpochs        int     `mapstructure:"cls_epochs" yaml:"cls_epochs"`                   // epochs of each classification phase
	RankEpochs       int     `mapstructure:"rank_epochs" yaml:"rank_epochs"`                 // epochs of each ranking phase (0: ranking off)
	RankMargin       float64 `mapstructure:"rank_margin" yaml:"rank_margin"`                 // paper: 0.05
	RankRollback     bool    `mapstructure:"rank_rollback" yaml:"rank_rollback"`             // undo a ranking phase that does not help the zoomed scales on validation
	RankKeepP        float64 `mapstructure:"rank_keep_p" yaml:"rank_keep_p"`                 // rank_rollback keeps a phase when the images it mended outnumber those it broke at this one-sided sign-test p-value (1: every phase)
	FusionEpochs     int     `mapstructure:"fusion_epochs" yaml:"fusion_epochs"`             // (d) fusion classifiers alone on the final features (0: none, as the paper)
	FusionCache      bool    `mapstructure:"fusion_cache" yaml:"fusion_cache"`               // (d) compute the fusion classifiers' inputs once, then train on them (false: a forward pass per epoch, fresh augmentation)
	EvalEvery        int     `mapstructure:"eval_every" yaml:"eval_every"`                   // validate every N epochs (0: at phase ends; the fusion phase: at its end)
	KeepLast         int     `mapstructure:"keep_last" yaml:"keep_last"`                     // checkpoints kept besides the best
	KeepPhaseEnds    bool    `mapstructure:"keep_phase_ends" yaml:"keep_phase_ends"`         // also keep the checkpoint ending each phase (checkpoints/end-cls1.safetensors), to start other runs from (racnn train --from)
	LogEvery         int     `mapstructure:"log_every" yaml:"log_every"`                     // steps between log lines
	MaxStepsPerEpoch int     `mapstructure:"max_steps_per_epoch" yaml:"max_steps_per_epoch"` // 0: whole epochs
}

// Optimizer configures one phase's optimiser and learning-rate schedule.
type Optimizer struct {
	Name        string  `mapstructure:"name" yaml:"name"`                 // sgd | adam | adamw
	LR          float64 `mapstructure:"lr" yaml:"lr"`                     // base learning rate
	HeadLRMult  float64 `mapstructure:"head_lr_mult" yaml:"head_lr_mult"` // new layers' LR × this (pretrained backbones fine-tune slower)
	Momentum    float64 `mapstructure:"momentum" yaml:"momentum"`         // sgd
	Nesterov    bool    `mapstructure:"nesterov" yaml:"nesterov"`         // sgd
	WeightDecay float64 `mapstructure:"weight_decay" yaml:"weight_decay"` //
	Schedule    string  `mapstructure:"schedule" yaml:"schedule"`         // constant | step | cosine, over the phase
	StepEpochs  int     `mapstructure:"step_epochs" yaml:"step_epochs"`   // step schedule: epochs between decays
	Gamma       float64 `mapstructure:"gamma" yaml:"gamma"`               // step schedule: decay factor
	ClipNorm    float64 `mapstructure:"clip_norm" yaml:"clip_norm"`       // 0: no gradient clipping
}

// Optim holds the optimiser of each kind of phase.
type Optim struct {
	Scale  Optimizer `mapstructure:"scale" yaml:"scale"`   // (a) scale fine-tuning
	Cls    Optimizer `mapstructure:"cls" yaml:"cls"`       // (c) classification phases: lower, or they erase the features the APNs read
	APN    Optimizer `mapstructure:"apn" yaml:"apn"`       // APN pre-training (a regression: tolerates a larger step)
	Rank   Optimizer `mapstructure:"rank" yaml:"rank"`     // ranking phases (small steps: larger ones saturate the boxes)
	Fusion Optimizer `mapstructure:"fusion" yaml:"fusion"` // phase (d): the fusion classifiers alone (train.fusion_epochs)
	// LRScaling says how a data-parallel run's learning rates follow its
	// global batch (data.batch_size × ranks): none keeps them as written,
	// linear multiplies them by the number of ranks.
	LRScaling string `mapstructure:"lr_scaling" yaml:"lr_scaling"` // none | linear
}

// Runtime is where and how a run executes.
type Runtime struct {
	Device  string `mapstructure:"device" yaml:"device"`   // cpu | cuda | cuda:N
	Threads int    `mapstructure:"threads" yaml:"threads"` // libtorch intra-op threads (0: libtorch's default, which honours OMP_NUM_THREADS)
	Out     string `mapstructure:"out" yaml:"out"`         // run directory
	// DistTimeout bounds every wait of a data-parallel run (joining, each
	// collective): a rank that died or hangs stops the others within it.
	DistTimeout float64 `mapstructure:"dist_timeout" yaml:"dist_timeout"` // seconds
	// Precision of the forward passes: fp32, or autocast to bf16 (CPU or
	// CUDA) or fp16 (CUDA); weights, optimiser state and checkpoints stay
	// fp32 (docs/precision.md).
	Precision string `mapstructure:"precision" yaml:"precision"`
	// LossScale is dynamic loss scaling (PyTorch's GradScaler): auto (on
	// for fp16 only), dynamic or off.
	LossScale         string  `mapstructure:"loss_scale" yaml:"loss_scale"`
	LossScaleInit     float64 `mapstructure:"loss_scale_init" yaml:"loss_scale_init"`         // initial scale (GradScaler: 65536)
	LossScaleInterval int     `mapstructure:"loss_scale_interval" yaml:"loss_scale_interval"` // clean steps before the scale doubles (GradScaler: 2000)
	TF32              bool    `mapstructure:"tf32" yaml:"tf32"`                               // CUDA: TF32 in fp32 matmuls and convolutions (Ampere and later)
	CuDNNBenchmark    bool    `mapstructure:"cudnn_benchmark" yaml:"cudnn_benchmark"`         // CUDA: autotune convolutions once per input shape
}

// Precisions of runtime.precision.
const (
	FP32 = "fp32"
	BF16 = "bf16"
	FP16 = "fp16"
)

// UsesLossScale reports whether a run with r scales its losses
// (runtime.loss_scale: auto means with fp16 only).
func (r Runtime) UsesLossScale() bool {
	return r.LossScale == "dynamic" || (r.LossScale == "auto" && r.Precision == FP16)
}

// Default returns the paper's configuration for CUB-200-2011 with VGG-19.
func Default() Config {
	return Config{
		Data: Data{
			Kind: "cub", SourceSize: 448, BatchSize: 8, Workers: 2, Prefetch: 4, Flip: true,
			Mean: []float64{0.485, 0.456, 0.406}, Std: []float64{0.229, 0.224, 0.225},
			ValFraction: 0.1, OnBadImage: "fail",
		},
		Model: Model{
			Backbone: "vgg19", Scales: 3, InputSizes: []int{448, 224, 224}, FeatureScale: 0.1,
			APN: APN{Hidden: 1024, Head: "fc", Pool: 2, Mode: "boxcar", K: 300, MinHalf: 0.1, MaxHalf: 0.5, Inside: true, PretrainHalf: 0.25, PretrainPeak: "square", PretrainLoss: "mse"},
		},
		Train: Train{
			Seed: 1, ScaleEpochs: 10, ScalePhase: "scale1", PretrainEpochs: 2, Alternations: 2, ClsEpochs: 5, RankEpochs: 1,
			RankMargin: 0.05, RankRollback: true, RankKeepP: 0.05, FusionCache: true, KeepLast: 2, LogEvery: 20,
		},
		Optim: Optim{
			Scale: Optimizer{Name: "sgd", LR: 0.001, HeadLRMult: 10, Momentum: 0.9, WeightDecay: 5e-4, Schedule: "cosine", Gamma: 0.1},
			Cls:   Optimizer{Name: "sgd", LR: 0.001, HeadLRMult: 10, Momentum: 0.9, WeightDecay: 5e-4, Schedule: "cosine", Gamma: 0.1},
			APN:   Optimizer{Name: "adam", LR: 1e-4, HeadLRMult: 1, Schedule: "constant", Gamma: 0.1},
			Rank:  Optimizer{Name: "adam", LR: 1e-5, HeadLRMult: 1, Schedule: "constant", Gamma: 0.1, ClipNorm: 1},
			// A linear layer on unit-norm features needs large weights, so a
			// larger rate than the classification phases' (docs/method.md).
			Fusion:    Optimizer{Name: "adam", LR: 0.01, HeadLRMult: 1, Schedule: "cosine", Gamma: 0.1},
			LRScaling: "none",
		},
		Runtime: Runtime{Device: "cpu", Out: "runs/latest", DistTimeout: 300, Precision: FP32, LossScale: "auto",
			LossScaleInit: 65536, LossScaleInterval: 2000, TF32: true, CuDNNBenchmark: true},
	}
}

// MaxSide bounds every image side a config asks for (data.source_size,
// resize_size, model.input_sizes), and MaxCount every count and width: a
// config read from an edited checkpoint is validated, never trusted, and
// data.source_size 20000 made one 32x32 prediction take 45 s and 9.6 GB.
const (
	MaxSide  = 4096
	MaxCount = 65536
)

// backbones are the model.backbone values. internal/model defines them (an
// Arch per family, listed once there) and registers them when it is linked
// in; it reads this package, so this one cannot import it.
var backbones []string

// RegisterBackbones adds names to the model.backbone values Validate
// accepts; internal/model calls it from an init function. Before any call
// Validate leaves model.backbone to internal/model's own check.
func RegisterBackbones(names ...string) { backbones = append(backbones, names...) }

// Validate checks values and cross-field rules; errors name the key.
func (c *Config) Validate() error {
	var errs []string
	bad := func(key, format string, args ...any) {
		errs = append(errs, key+": "+fmt.Sprintf(format, args...))
	}
	oneOf := func(key, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		bad(key, "%q is not one of %s", v, strings.Join(allowed, ", "))
	}
	// NaN passes every range test below (each comparison is false), so
	// non-finite numbers are refused first, for every key.
	flat := flatten(*c)
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var vs []float64
		switch v := flat[k].(type) {
		case float64:
			vs = []float64{v}
		case []float64:
			vs = v
		}
		for _, v := range vs {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				bad(k, "%g is not a finite number", v)
				break
			}
		}
	}
	oneOf("data.kind", c.Data.Kind, "cub", "dogs", "cars", "folder")
	oneOf("data.on_bad_image", c.Data.OnBadImage, "fail", "skip")
	if c.Data.SourceSize < 8 || c.Data.SourceSize > MaxSide {
		bad("data.source_size", "%d must be between 8 and %d", c.Data.SourceSize, MaxSide)
	}
	if c.Data.ResizeSize != 0 && (c.Data.ResizeSize < c.Data.SourceSize || c.Data.ResizeSize > MaxSide) {
		bad("data.resize_size", "%d must be 0 or between data.source_size %d and %d", c.Data.ResizeSize, c.Data.SourceSize, MaxSide)
	}
	for _, kv := range []struct {
		key string
		v   int
	}{{"data.batch_size", c.Data.BatchSize}, {"data.workers", c.Data.Workers}} {
		if kv.v < 1 || kv.v > MaxCount {
			bad(kv.key, "must be at least 1 (and at most %d), got %d", MaxCount, kv.v)
		}
	}
	if c.Data.Prefetch < 0 || c.Data.Prefetch > MaxCount {
		bad("data.prefetch", "must be between 0 and %d, got %d", MaxCount, c.Data.Prefetch)
	}
	for _, w := range c.Model.SmallChannels {
		if w != -1 && (w < 1 || w > MaxCount) {
			bad("model.small_channels", "%d must be -1 (a 2x2 max-pool) or a width between 1 and %d", w, MaxCount)
			break
		}
	}
	if c.Model.NumClasses > MaxCount || c.Model.APN.Hidden > MaxCount || c.Runtime.Threads > MaxCount {
		bad("model.num_classes/model.apn.hidden/runtime.threads", "must be at most %d", MaxCount)
	}
	if len(c.Data.Mean) != 3 || len(c.Data.Std) != 3 {
		bad("data.mean/data.std", "need 3 values each (RGB)")
	}
	for _, s := range c.Data.Std {
		if s <= 0 {
			bad("data.std", "values must be positive")
			break
		}
	}
	if c.Data.ValFraction < 0 || c.Data.ValFraction >= 1 {
		bad("data.val_fraction", "must be in [0, 1), got %g", c.Data.ValFraction)
	}
	if len(backbones) > 0 {
		oneOf("model.backbone", c.Model.Backbone, backbones...)
	}
	if strings.HasPrefix(c.Model.Backbone, "small") && len(c.Model.SmallChannels) == 0 {
		bad("model.small_channels", "backbone small needs its conv widths, e.g. [32, -1, 64, -1, 128]")
	}
	if c.Model.Scales < 1 || c.Model.Scales > 3 {
		bad("model.scales", "must be 1, 2 or 3, got %d", c.Model.Scales)
	}
	if len(c.Model.InputSizes) != c.Model.Scales && len(c.Model.InputSizes) != 3 {
		bad("model.input_sizes", "need one size per scale, got %v for %d scales", c.Model.InputSizes, c.Model.Scales)
	}
	for _, s := range c.Model.InputSizes {
		if s < 8 || s > c.Data.SourceSize {
			bad("model.input_sizes", "%d must be between 8 and data.source_size (%d)", s, c.Data.SourceSize)
			break
		}
	}
	if c.Model.NumClasses < 0 {
		bad("model.num_classes", "must be positive (or 0 to take it from the data)")
	}
	a := c.Model.APN
	oneOf("model.apn.mode", a.Mode, "boxcar", "grid")
	oneOf("model.apn.head", a.Head, "fc", "softargmax")
	if a.K <= 0 {
		bad("model.apn.k", "must be positive, got %g", a.K)
	}
	if a.MinHalf <= 0 || a.MinHalf > a.MaxHalf || a.MaxHalf > 0.5 {
		bad("model.apn.min_half/max_half", "need 0 < min_half <= max_half <= 0.5, got %g and %g", a.MinHalf, a.MaxHalf)
	}
	if a.PretrainHalf < a.MinHalf || a.PretrainHalf > a.MaxHalf {
		bad("model.apn.pretrain_half", "%g must lie in [min_half, max_half] = [%g, %g]", a.PretrainHalf, a.MinHalf, a.MaxHalf)
	}
	if a.Hidden < 1 {
		bad("model.apn.hidden", "must be at least 1")
	}
	if a.Pool != 1 && a.Pool != 2 {
		bad("model.apn.pool", "must be 2 (the released model's 2x2 max-pool) or 1 (none), got %d", a.Pool)
	}
	oneOf("model.apn.pretrain_peak", a.PretrainPeak, "cell", "square")
	oneOf("model.apn.pretrain_loss", a.PretrainLoss, "mse", "l1")
	if a.PretrainWindow < 0 || a.PretrainWindow > 1 {
		bad("model.apn.pretrain_window", "must be in [0, 1] (a fraction of the shorter side; 0: the square's own side), got %g", a.PretrainWindow)
	}
	t := c.Train
	oneOf("train.scale_phase", t.ScalePhase, "scale1", "all")
	for key, v := range map[string]int{"train.scale_epochs": t.ScaleEpochs, "train.pretrain_epochs": t.PretrainEpochs,
		"train.alternations": t.Alternations, "train.cls_epochs": t.ClsEpochs, "train.rank_epochs": t.RankEpochs,
		"train.fusion_epochs": t.FusionEpochs, "train.eval_every": t.EvalEvery, "train.keep_last": t.KeepLast, "train.max_steps_per_epoch": t.MaxStepsPerEpoch} {
		if v < 0 {
			bad(key, "must not be negative, got %d", v)
		}
	}
	if t.RankMargin < 0 || t.RankMargin >= 1 {
		bad("train.rank_margin", "must be in [0, 1), got %g", t.RankMargin)
	}
	if t.RankKeepP <= 0 || t.RankKeepP > 1 {
		bad("train.rank_keep_p", "must be in (0, 1] (a one-sided sign-test p-value; 1 keeps every phase), got %g", t.RankKeepP)
	}
	if t.LogEvery < 1 {
		bad("train.log_every", "must be at least 1")
	}
	for _, o := range []struct {
		key string
		o   Optimizer
	}{{"optim.scale", c.Optim.Scale}, {"optim.cls", c.Optim.Cls}, {"optim.apn", c.Optim.APN}, {"optim.rank", c.Optim.Rank}, {"optim.fusion", c.Optim.Fusion}} {
		oneOf(o.key+".name", o.o.Name, "sgd", "adam", "adamw")
		oneOf(o.key+".schedule", o.o.Schedule, "constant", "step", "cosine")
		if o.o.LR <= 0 {
			bad(o.key+".lr", "must be positive, got %g", o.o.LR)
		}
		if o.o.HeadLRMult <= 0 {
			bad(o.key+".head_lr_mult", "must be positive, got %g", o.o.HeadLRMult)
		}
		if o.o.Schedule == "step" && o.o.StepEpochs < 1 {
			bad(o.key+".step_epochs", "schedule step needs step_epochs >= 1")
		}
		if o.o.Momentum < 0 || o.o.Momentum >= 1 {
			bad(o.key+".momentum", "must be in [0, 1), got %g", o.o.Momentum)
		}
	}
	if c.Runtime.Device != "cpu" && c.Runtime.Device != "cuda" && !strings.HasPrefix(c.Runtime.Device, "cuda:") {
		bad("runtime.device", "%q is not cpu, cuda or cuda:N", c.Runtime.Device)
	}
	if c.Runtime.Threads < 0 {
		bad("runtime.threads", "must not be negative")
	}
	if !(c.Runtime.DistTimeout >= 1 && c.Runtime.DistTimeout <= 86400) {
		bad("runtime.dist_timeout", "must be between 1 and 86400 seconds, got %g", c.Runtime.DistTimeout)
	}
	oneOf("optim.lr_scaling", c.Optim.LRScaling, "none", "linear")
	r := c.Runtime
	oneOf("runtime.precision", r.Precision, FP32, BF16, FP16)
	if r.Precision == FP16 && r.Device == "cpu" {
		bad("runtime.precision", "fp16 needs a CUDA device (libtorch autocasts to bf16 only on the CPU): use bf16 or fp32 on cpu")
	}
	oneOf("runtime.loss_scale", r.LossScale, "auto", "dynamic", "off")
	if !(r.LossScaleInit > 0) || r.LossScaleInit > math.MaxFloat32 {
		bad("runtime.loss_scale_init", "must be positive and finite in float32, got %g", r.LossScaleInit)
	}
	if r.LossScaleInterval < 1 {
		bad("runtime.loss_scale_interval", "must be at least 1, got %d", r.LossScaleInterval)
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: %s", strings.Join(errs, "; "))
	}
	return nil
}
