package train

import (
	"context"
	"fmt"

	"github.com/racnn/racnn/internal/model"
	"github.com/racnn/racnn/internal/torch"
)

// LoadModel builds the model a checkpoint was written for, on dev (empty:
// the checkpoint's runtime.device, falling back to cpu when it has no GPU),
// and loads its weights. The caller frees the model; the checkpoint's
// tensors are already freed.
func LoadModel(path string, dev torch.Device) (*model.RACNN, *Checkpoint, error) {
	ck, err := LoadCheckpoint(path)
	if err != nil {
		return nil, nil, err
	}
	defer ck.Free()
	if dev == "" {
		dev = torch.Device(ck.Config.Runtime.Device)
		if dev.IsCUDA() && !torch.CUDAAvailable() {
			dev = torch.CPU
		}
	}
	m, err := NewModel(ck.Config, len(ck.Classes), dev)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint %s: %v", path, err)
	}
	if err := m.Store.Load(ck.Model, true); err != nil {
		m.Free()
		return nil, nil, fmt.Errorf("checkpoint %s does not fit its own config: %v", path, err)
	}
	return m, ck, nil
}

// EvalOptions choose what EvaluateCheckpoint evaluates.
type EvalOptions struct {
	Split    string // test | val | train
	Device   string // empty: the checkpoint's (cpu without a GPU)
	DataRoot string // empty: the checkpoint's data.root
}

// EvaluateCheckpoint evaluates a checkpoint on a split of its data set. Call
// it on a locked thread (torch.OnThread).
func EvaluateCheckpoint(ctx context.Context, path string, o EvalOptions) (Metrics, error) {
	dev := torch.Device("")
	if o.Device != "" {
		d, err := torch.ParseDevice(o.Device)
		if err != nil {
			return Metrics{}, err
		}
		dev = d
	}
	m, ck, err := LoadModel(path, dev)
	if err != nil {
		return Metrics{}, err
	}
	defer m.Free()
	c := ck.Config
	if o.DataRoot != "" {
		c.Data.Root = o.DataRoot
	}
	splits, err := OpenSplits(c)
	if err != nil {
		return Metrics{}, err
	}
	if len(splits.Classes) != len(ck.Classes) {
		return Metrics{}, fmt.Errorf("data %s has %d classes; checkpoint %s was trained on %d", c.Data.Root, len(splits.Classes), path, len(ck.Classes))
	}
	ds := splits.Test
	switch o.Split {
	case "val":
		if splits.Val == nil {
			return Metrics{}, fmt.Errorf("--split val: the run held out no validation images (data.val_fraction 0)")
		}
		ds = splits.Val
	case "train":
		ds = splits.Train
	}
	l, err := NewLoader(c, ds, false, newBadImages(c, nil))
	if err != nil {
		return Metrics{}, err
	}
	return Evaluate(ctx, m, l, nil)
}
