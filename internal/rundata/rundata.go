// Package rundata is the data a run reads, from its config: the training,
// validation and test splits, their loaders, and batches as tensors.
package rundata

import (
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/racnn/racnn/internal/config"
	"github.com/racnn/racnn/internal/data"
	"github.com/racnn/racnn/internal/data/loader"
	"github.com/racnn/racnn/internal/data/transform"
	"github.com/racnn/racnn/internal/torch"
)

// Splits are the data a run trains, validates and tests on.
type Splits struct {
	Train, Val, Test *data.Dataset
	Classes          []string
}

// Open reads the data set in its native layout and holds out a
// stratified share of the training split for validation (the kept model is
// chosen on it, never on the test split).
func Open(c config.Config) (*Splits, error) {
	train, err := data.Open(c.Data.Kind, c.Data.Root, "train")
	if err != nil {
		return nil, err
	}
	test, err := data.Open(c.Data.Kind, c.Data.Root, "test")
	if err != nil {
		return nil, err
	}
	if len(train.Items) == 0 {
		return nil, fmt.Errorf("data %s: the train split has no images", c.Data.Root)
	}
	s := &Splits{Classes: train.Classes, Test: limit(test, c.Data.Limit, c.Train.Seed)}
	s.Train, s.Val = holdOut(limit(train, c.Data.Limit, c.Train.Seed), c.Data.ValFraction, c.Train.Seed)
	return s, nil
}

// limit keeps at most n items (0: all), a seeded random subset in data set order.
func limit(ds *data.Dataset, n int, seed uint64) *data.Dataset {
	if n <= 0 || len(ds.Items) <= n {
		return ds
	}
	r := rand.New(rand.NewPCG(seed, 0x11))
	keep := r.Perm(len(ds.Items))[:n]
	mark := make([]bool, len(ds.Items))
	for _, i := range keep {
		mark[i] = true
	}
	out := *ds
	out.Items = nil
	for i, it := range ds.Items {
		if mark[i] {
			out.Items = append(out.Items, it)
		}
	}
	return &out
}

// holdOut splits ds into train and validation parts, taking frac of every
// class (at least one item of a class with two or more) for validation.
func holdOut(ds *data.Dataset, frac float64, seed uint64) (train, val *data.Dataset) {
	tr, va := *ds, *ds
	tr.Items, va.Items = nil, nil
	va.Split = "val"
	if frac <= 0 {
		return &tr, nil
	}
	byClass := map[int][]int{}
	for i, it := range ds.Items {
		byClass[it.Label] = append(byClass[it.Label], i)
	}
	isVal := make([]bool, len(ds.Items))
	r := rand.New(rand.NewPCG(seed, 0x7a1))
	for c := 0; c < len(ds.Classes); c++ {
		idx := byClass[c]
		if len(idx) < 2 {
			continue
		}
		r.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		k := int(frac*float64(len(idx)) + 0.5)
		k = max(1, min(k, len(idx)-1))
		for _, i := range idx[:k] {
			isVal[i] = true
		}
	}
	for i, it := range ds.Items {
		if isVal[i] {
			va.Items = append(va.Items, it)
		} else {
			tr.Items = append(tr.Items, it)
		}
	}
	return &tr, &va
}

// NewLoader builds the loader of one split: training loaders shuffle,
// augment (random crop, flip) and drop the last partial batch; evaluation
// loaders keep the data set order and centre-crop.
func NewLoader(c config.Config, ds *data.Dataset, training bool, bad *data.BadImages) (*loader.Loader, error) {
	return NewShardLoader(c, ds, training, bad, 0, 1)
}

// NewShardLoader is NewLoader for rank of world data-parallel ranks: the
// same order on every rank, dealt round-robin (see loader.Config).
func NewShardLoader(c config.Config, ds *data.Dataset, training bool, bad *data.BadImages, rank, world int) (*loader.Loader, error) {
	norm := transform.Norm{}
	for i := 0; i < 3; i++ {
		norm.Mean[i], norm.Std[i] = float32(c.Data.Mean[i]), float32(c.Data.Std[i])
	}
	flip := 0.0
	if c.Data.Flip {
		flip = 0.5
	}
	p, err := transform.New(transform.Config{
		Resize: c.Data.ResizeSize, SourceSize: c.Data.SourceSize, InputSize: c.Model.InputSizes[0],
		Train: training, FlipProb: &flip, Norm: norm,
	})
	if err != nil {
		return nil, fmt.Errorf("config data/model sizes: %w", err)
	}
	return loader.New(ds, p, loader.Config{
		BatchSize: c.Data.BatchSize, Workers: c.Data.Workers, Prefetch: c.Data.Prefetch,
		Shuffle: training, DropLast: training, Seed: c.Train.Seed, BadImages: bad, Rank: rank, WorldSize: world,
	})
}

// NewBadImages is the run's bad-image policy, warning through logf.
func NewBadImages(c config.Config, logf func(string, ...any)) *data.BadImages {
	if logf == nil {
		logf = log.Printf
	}
	return &data.BadImages{Policy: data.OnBadImage(c.Data.OnBadImage), Warn: func(msg string) { logf("warning: %s", msg) }}
}

// Tensors copies a loader batch into tensors on dev.
func Tensors(b *loader.Batch, dev torch.Device) (src, in, labels *torch.Tensor) {
	n := int64(b.N)
	src = torch.FromSlice(b.Source, n, 3, int64(b.SourceSize), int64(b.SourceSize)).To(dev)
	if b.InputSize == b.SourceSize {
		in = src
	} else {
		in = torch.FromSlice(b.Input, n, 3, int64(b.InputSize), int64(b.InputSize)).To(dev)
	}
	labels = torch.FromSlice(b.Labels, n).To(dev)
	return src, in, labels
}
