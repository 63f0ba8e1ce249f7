package model

import (
	"fmt"

	"github.com/racnn/racnn/internal/apn"
	"github.com/racnn/racnn/internal/config"
	"github.com/racnn/racnn/internal/torch"
)

// FromConfig maps a run's config onto the model's architecture.
func FromConfig(c config.Config, numClasses int) Config {
	mc := Default()
	mc.Backbone = c.Model.Backbone
	mc.FreezeBN = c.Model.FreezeBN
	mc.SmallChannels = nil
	for _, ch := range c.Model.SmallChannels {
		mc.SmallChannels = append(mc.SmallChannels, int64(ch))
	}
	mc.NumClasses = int64(numClasses)
	if c.Model.NumClasses > 0 {
		mc.NumClasses = int64(c.Model.NumClasses)
	}
	mc.Scales = c.Model.Scales
	for i := range mc.InputSize {
		j := min(i, len(c.Model.InputSizes)-1)
		mc.InputSize[i] = int64(c.Model.InputSizes[j])
	}
	a := apn.DefaultConfig()
	a.Mode, a.K, a.MinHalf, a.MaxHalf, a.Inside = c.Model.APN.Mode, c.Model.APN.K, c.Model.APN.MinHalf, c.Model.APN.MaxHalf, c.Model.APN.Inside
	a.InitHalf = c.Model.APN.PretrainHalf
	a.Pool = c.Model.APN.Pool
	a.Head = c.Model.APN.Head
	mc.APN = a
	mc.APNHidden = int64(c.Model.APN.Hidden)
	mc.FeatureScale = c.Model.FeatureScale
	mc.ChannelsLast = c.Model.ChannelsLast
	mc.Fusion12 = c.Model.Scales == 3
	return mc
}

// NewFromConfig builds a run's model with fresh weights on dev.
func NewFromConfig(c config.Config, numClasses int, dev torch.Device) (*RACNN, error) {
	if c.Model.NumClasses > 0 && numClasses > 0 && c.Model.NumClasses != numClasses {
		return nil, fmt.Errorf("model.num_classes is %d but the data set has %d classes", c.Model.NumClasses, numClasses)
	}
	m, err := New(FromConfig(c, numClasses), dev)
	if err != nil {
		return nil, err
	}
	if err := m.SetPrecision(c.Runtime.Precision); err != nil {
		m.Free()
		return nil, fmt.Errorf("runtime.precision: %v", err)
	}
	ApplyGPUSettings(c.Runtime)
	return m, nil
}

// ApplyGPUSettings sets libtorch's process-wide CUDA settings from a run's
// config: TF32 in float32 matmuls and convolutions (runtime.tf32) and
// cuDNN's autotuning (runtime.cudnn_benchmark). They change nothing on a
// CPU.
func ApplyGPUSettings(r config.Runtime) {
	torch.SetAllowTF32(r.TF32, r.TF32)
	torch.SetCuDNNBenchmark(r.CuDNNBenchmark)
}
