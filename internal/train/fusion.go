package train

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/racnn/racnn/internal/model"
	"github.com/racnn/racnn/internal/rundata"
	"github.com/racnn/racnn/internal/torch"
)

// fusionCache holds what the fusion classifiers read for every training
// image (model.FusionInputs). In phase (d) nothing they read can change:
// every backbone and APN is frozen and runs with its running batch-norm
// statistics, and the boxes are cut from the graph. So with
// train.fusion_cache the phase computes these inputs in one pass over the
// training split and its epochs are steps of the fusion classifiers alone:
// a linear fusion head needs many epochs, which with a forward pass each
// would cost more than the rest of the schedule, and on the cache cost
// less than the one pass.
type fusionCache struct {
	all, first2 *torch.Tensor // [N, S·C] and [N, 2C] (nil without Fusion12), kept
	labels      *torch.Tensor // [N] int64, kept
	n           int
}

func (c *fusionCache) free() {
	for _, t := range []*torch.Tensor{c.all, c.first2, c.labels} {
		if t != nil {
			t.Free()
		}
	}
}

// buildFusionCache runs the frozen model over the training split once, in
// the order and with the augmentation of the phase's first epoch (its first
// spe batches: train.max_steps_per_epoch bounds the pass too). A stop
// request ends it with ErrInterrupted after saving the position (the phase's
// start: the cache is rebuilt, identically, on resume).
func (t *trainer) buildFusionCache(ctx context.Context, ph Phase, po *phaseOptimizer, spe int, fo model.ForwardOptions) (*fusionCache, error) {
	lctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ep := t.train.Epoch(lctx, DataEpoch(Schedule(t.c), t.st.Phase, 0))
	defer ep.Close()
	start := time.Now()
	bar := newEpochProgress(t.o.Out, t.o.Terminal, fmt.Sprintf("%s features", ph), spe)
	defer bar.close()
	var all, first2, labels []*torch.Tensor
	defer func() {
		for _, ts := range [][]*torch.Tensor{all, first2, labels} {
			for _, x := range ts {
				x.Free()
			}
		}
	}()
	for r := range ep.Batches() {
		if r.Err != nil {
			return nil, t.badImageError(r.Err)
		}
		if len(labels) == spe {
			r.Batch.Release()
			break
		}
		if t.dp.anyRank(ctx.Err() != nil || t.stopRequested()) {
			r.Batch.Release()
			return nil, t.interrupt(po)
		}
		b := r.Batch
		err := torch.Try(func() {
			torch.WithScope(func() {
				torch.NoGrad(func() {
					src, in, lab := rundata.Tensors(b, t.m.Device())
					out := t.m.ForwardWith(src, in, false, fo)
					a, f2 := t.m.FusionInputs(out.Features)
					all, labels = append(all, a.Keep()), append(labels, lab.Keep())
					if f2 != nil {
						first2 = append(first2, f2.Keep())
					}
				})
			})
		})
		b.Release()
		if err != nil {
			return nil, err
		}
		bar.step(fmt.Sprintf("%s features", ph))
	}
	if err := ep.Err(); err != nil {
		return nil, err
	}
	c := &fusionCache{}
	err := torch.Try(func() {
		torch.WithScope(func() {
			// Every rank holds every rank's rows, in a single process's order.
			c.all, c.labels = t.dp.gatherRows(torch.Cat(all, 0)).Keep(), t.dp.gatherRows(torch.Cat(labels, 0)).Keep()
			if len(first2) > 0 {
				c.first2 = t.dp.gatherRows(torch.Cat(first2, 0)).Keep()
			}
		})
	})
	if err != nil {
		c.free()
		return nil, err
	}
	c.n = int(c.labels.Shape()[0])
	bytes := 4 * c.n * int(c.all.Shape()[1])
	if c.first2 != nil {
		bytes += 4 * c.n * int(c.first2.Shape()[1])
	}
	t.rl.say("%s: the fusion classifiers' inputs for %d training images (%.1f MB on %s) in %s", ph, c.n,
		float64(bytes)/(1<<20), t.dev, time.Since(start).Round(100*time.Millisecond))
	return c, nil
}

// runFusionEpoch trains the fusion classifiers for one epoch on the cache:
// the batches are the cache's rows in an order drawn from train.seed and
// the epoch's data number, so a resumed run draws the same ones.
func (t *trainer) runFusionEpoch(ctx context.Context, ph Phase, po *phaseOptimizer, spe int, c *fusionCache, ls lossSettings) error {
	bs := t.c.Data.BatchSize
	order := rand.New(rand.NewPCG(t.c.Train.Seed, uint64(DataEpoch(Schedule(t.c), t.st.Phase, t.st.Epoch)))).Perm(c.n)
	start, imgs := time.Now(), 0
	bar := newEpochProgress(t.o.Out, t.o.Terminal, fmt.Sprintf("%s epoch %d/%d", ph, t.st.Epoch+1, ph.Epochs), spe-t.st.Batch)
	defer bar.close()
	gbs := bs * t.dp.world() // a global batch: this rank's rows are its share
	for t.st.Batch < spe && (t.st.Batch+1)*gbs <= c.n {
		if t.dp.anyRank(ctx.Err() != nil || t.stopRequested()) {
			return t.interrupt(po)
		}
		rows := make([]int64, bs)
		for i, pos := range t.dp.shareOf(t.st.Batch*gbs, bs) {
			rows[i] = int64(order[pos])
		}
		lr := po.setStep(t.st.Epoch*spe + t.st.Batch)
		st, err := optimiseStep(po, ph, t.st.Step, func() (*model.Output, *torch.Tensor, []*torch.Tensor) {
			idx := torch.FromSlice(rows, int64(bs)).To(t.m.Device())
			var a, f2 *torch.Tensor
			if a = c.all.IndexSelect(0, idx); c.first2 != nil {
				f2 = c.first2.IndexSelect(0, idx)
			}
			out := &model.Output{}
			out.Fused, out.Fused12 = t.m.FusionForward(a, f2)
			total, terms := phaseLoss(t.m, nil, out, c.labels.IndexSelect(0, idx), ph, ls)
			return out, total, terms
		})
		if err != nil {
			return t.stepFailed(ph, err)
		}
		imgs += bs
		t.stepped(ph, st, lr, spe, float64(imgs)/time.Since(start).Seconds(), bar)
	}
	return nil
}
