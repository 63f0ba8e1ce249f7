package evaluate

import (
	"context"
	"errors"
	"fmt"

	"github.com/racnn/racnn/internal/checkpoint"
	"github.com/racnn/racnn/internal/data"
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
	// OnBadImage is the bad-image policy (fail | skip; empty: the
	// checkpoint's data.on_bad_image); Metrics.Skipped counts what skip
	// left out, and Warn receives its warnings (nil: the log package).
	OnBadImage string
	Warn       func(format string, args ...any)
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
	if o.OnBadImage != "" {
		if _, err := data.ParseOnBadImage(o.OnBadImage); err != nil {
			return Metrics{}, fmt.Errorf("data.on_bad_image: %q is not one of fail, skip", o.OnBadImage)
		}
		c.Data.OnBadImage = o.OnBadImage
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
	bad := rundata.NewBadImages(c, o.Warn)
	l, err := rundata.NewLoader(c, ds, false, bad)
	if err != nil {
		return Metrics{}, err
	}
	mt, err := Evaluate(ctx, m, l, nil)
	var ie *data.ImageError
	if errors.As(err, &ie) {
		return Metrics{}, fmt.Errorf("%v (--data.on_bad_image skip leaves unreadable images out)", err)
	}
	mt.Skipped = bad.Count()
	return mt, err
}
