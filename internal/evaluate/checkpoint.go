package evaluate

import (
	"context"
	"fmt"

	"github.com/racnn/racnn/internal/checkpoint"
	"github.com/racnn/racnn/internal/rundata"
	"github.com/racnn/racnn/internal/torch"
)

// Options choose what Checkpoint evaluates.
type Options struct {
	Split    string // test | val | train
	Device   string // empty: the checkpoint's (cpu without a GPU)
	DataRoot string // empty: the checkpoint's data.root
	// Precision of the forward passes: fp32, bf16 or fp16 (empty: the run's
	// runtime.precision).
	Precision string
}

// Checkpoint evaluates a checkpoint on a split of its data set. Call
// it on a locked thread (torch.OnThread).
func Checkpoint(ctx context.Context, path string, o Options) (Metrics, error) {
	dev := torch.Device("")
	if o.Device != "" {
		d, err := torch.ParseDevice(o.Device)
		if err != nil {
			return Metrics{}, err
		}
		dev = d
	}
	m, ck, err := checkpoint.LoadModelAs(path, dev, o.Precision)
	if err != nil {
		return Metrics{}, err
	}
	defer m.Free()
	c := ck.Config
	if o.DataRoot != "" {
		c.Data.Root = o.DataRoot
	}
	splits, err := rundata.Open(c)
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
	l, err := rundata.NewLoader(c, ds, false, rundata.NewBadImages(c, nil))
	if err != nil {
		return Metrics{}, err
	}
	return Evaluate(ctx, m, l, nil)
}
