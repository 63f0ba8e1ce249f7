package checkpoint

import (
	"fmt"

	"github.com/racnn/racnn/internal/model"
	"github.com/racnn/racnn/internal/torch"
)

// LoadModel builds the model a checkpoint was written for, on dev (empty:
// the checkpoint's runtime.device, falling back to cpu when it has no GPU),
// and loads its weights. The caller frees the model; the returned
// checkpoint's tensors are already freed (its Config and Classes remain).
func LoadModel(path string, dev torch.Device) (*model.RACNN, *Checkpoint, error) {
	return LoadModelAs(path, dev, "")
}

// LoadModelAs is LoadModel with the forward passes in precision (fp32,
// bf16, fp16; empty: the run's runtime.precision).
func LoadModelAs(path string, dev torch.Device, precision string) (*model.RACNN, *Checkpoint, error) {
	ck, err := Load(path)
	if err != nil {
		return nil, nil, err
	}
	defer ck.Free()
	if precision != "" {
		ck.Config.Runtime.Precision = precision
	}
	if dev == "" {
		dev = torch.Device(ck.Config.Runtime.Device)
		if dev.IsCUDA() && !torch.CUDAAvailable() {
			dev = torch.CPU
		}
	}
	m, err := model.NewFromConfig(ck.Config, len(ck.Classes), dev)
	if err != nil {
		if precision == "" && ck.Config.Runtime.Precision != model.FP32 {
			return nil, nil, fmt.Errorf("checkpoint %s: %v (--precision fp32 or bf16 overrides the run's)", path, err)
		}
		return nil, nil, fmt.Errorf("checkpoint %s: %v", path, err)
	}
	if err := m.Store.Load(ck.Model, true); err != nil {
		m.Free()
		return nil, nil, fmt.Errorf("checkpoint %s does not fit its own config: %v", path, err)
	}
	return m, ck, nil
}
