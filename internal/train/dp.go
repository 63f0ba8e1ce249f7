package train

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/racnn/racnn/internal/config"
	"github.com/racnn/racnn/internal/data/loader"
	"github.com/racnn/racnn/internal/dist"
	"github.com/racnn/racnn/internal/evaluate"
	"github.com/racnn/racnn/internal/model"
	"github.com/racnn/racnn/internal/torch"
)

// dataParallel is everything the trainer does differently as one rank of a
// data-parallel run, in one place: a nil *dataParallel is a single process,
// and every method is then a no-op (or the identity), so single-process
// runs compute exactly what they did before.
//
// The rules are DDP's: parameters and buffers start (and resume) as rank
// 0's; each rank trains on its shard of every global batch and the
// gradients are averaged in flat buckets after backward, so every rank
// applies the same update; batch-norm buffers are rank 0's at every step;
// evaluation counts are summed over the ranks.
type dataParallel struct {
	g      *torch.Group
	launch *dist.Launch
}

// gradBucketBytes is the size of the flat buckets gradients travel in
// (DDP's default bucket_cap_mb).
const gradBucketBytes = 25 << 20

func (d *dataParallel) rank() int {
	if d == nil {
		return 0
	}
	return d.g.Rank()
}

func (d *dataParallel) world() int {
	if d == nil {
		return 1
	}
	return d.g.World()
}

// isWriter reports whether this rank writes the run directory: rank 0.
func (d *dataParallel) isWriter() bool { return d.rank() == 0 }

// joinGroup joins the process group of a launch (nil: a single process,
// and a nil *dataParallel).
func joinGroup(l *dist.Launch, c config.Config, dev torch.Device) (*dataParallel, error) {
	if l == nil {
		return nil, nil
	}
	cuda := -1
	if dev.IsCUDA() {
		cuda = l.LocalRank
		if i := strings.IndexByte(string(dev), ':'); i >= 0 {
			cuda, _ = strconv.Atoi(string(dev)[i+1:])
		}
	}
	g, err := torch.NewGroup(torch.GroupOptions{Addr: l.Addr, Port: l.Port, HostStore: l.HostsStore(), Prefix: l.StorePrefix(),
		Rank: l.Rank, World: l.World, Timeout: time.Duration(c.Runtime.DistTimeout * float64(time.Second)), CUDADevice: cuda})
	if err != nil {
		return nil, fmt.Errorf("%s: %v (runtime.dist_timeout %gs)", l.Launcher, err, c.Runtime.DistTimeout)
	}
	return &dataParallel{g: g, launch: l}, nil
}

// broadcastParams makes every parameter and buffer of m rank 0's.
func (d *dataParallel) broadcastParams(m *model.RACNN) error {
	if d == nil {
		return nil
	}
	return torch.Try(func() {
		torch.NoGrad(func() {
			var ts []*torch.Tensor
			for _, e := range m.Store.Entries() {
				ts = append(ts, e.T)
			}
			d.g.Broadcast(ts, gradBucketBytes, 0)
		})
	})
}

// broadcastBuffers makes the batch-norm statistics rank 0's before a
// training step, as DDP's broadcast_buffers does: each rank's statistics
// moved with its own shard.
func (d *dataParallel) broadcastBuffers(m *model.RACNN) {
	if d == nil {
		return
	}
	var ts []*torch.Tensor
	for _, e := range m.Store.Entries() {
		if e.Buffer {
			ts = append(ts, e.T)
		}
	}
	if len(ts) > 0 {
		torch.NoGrad(func() { d.g.Broadcast(ts, gradBucketBytes, 0) })
	}
}

// allReduceGrads averages the gradients of params over the ranks. Every
// rank's graph is the same, so the same parameters have gradients.
func (d *dataParallel) allReduceGrads(params []*torch.Tensor) {
	if d == nil || d.world() == 1 {
		return
	}
	var grads []*torch.Tensor
	for _, p := range params {
		if g := p.Grad(); g != nil {
			grads = append(grads, g)
		}
	}
	d.g.AllReduce(grads, gradBucketBytes, 1/float64(d.world()))
}

// anyRank reports whether flag holds on any rank: a non-finite loss or a
// stop request on one rank stops every rank at the same step.
func (d *dataParallel) anyRank(flag bool) bool {
	if d == nil {
		return flag
	}
	v := 0.0
	if flag {
		v = 1
	}
	var sum float64
	torch.WithScope(func() {
		x := torch.FromSlice([]float64{v}, 1)
		d.g.AllReduce([]*torch.Tensor{x}, 0, 1)
		sum = x.Item()
	})
	return sum > 0
}

// scaleLR applies optim.lr_scaling to a phase's optimiser settings.
func (d *dataParallel) scaleLR(c config.Config, oc config.Optimizer) config.Optimizer {
	if c.Optim.LRScaling == "linear" {
		oc.LR *= float64(d.world())
	}
	return oc
}

// evaluate evaluates m on this rank's shard of a split and sums the counts
// over the ranks; the per-image record comes back in data-set order (a
// single process's loader order), gathered from every rank.
func (d *dataParallel) evaluate(ctx context.Context, m *model.RACNN, l *loader.Loader) (evaluate.Metrics, error) {
	if d == nil {
		return evaluate.Evaluate(ctx, m, l, nil)
	}
	t, err := evaluate.Count(ctx, m, l, nil)
	if err != nil {
		return evaluate.Metrics{}, err
	}
	err = torch.Try(func() {
		torch.WithScope(func() {
			v := t.Values()
			x := torch.FromSlice(v, int64(len(v)))
			d.g.AllReduce([]*torch.Tensor{x}, 0, 1)
			t.SetValues(x.Float64s())
		})
		// Each image as its data-set index and a bit per scale read right.
		rec := make([]int64, 0, 2*len(t.Index))
		for i, idx := range t.Index {
			var bits int64
			for k := range t.Right {
				if t.Right[k][i] {
					bits |= 1 << k
				}
			}
			rec = append(rec, int64(idx), bits)
		}
		type img struct{ idx, bits int64 }
		var all []img
		for _, r := range d.g.AllGatherInt64s(rec) {
			for i := 0; i+1 < len(r); i += 2 {
				all = append(all, img{r[i], r[i+1]})
			}
		}
		sort.Slice(all, func(i, j int) bool { return all[i].idx < all[j].idx })
		t.Index = t.Index[:0]
		for k := range t.Right {
			t.Right[k] = t.Right[k][:0]
		}
		for _, im := range all {
			t.Index = append(t.Index, int(im.idx))
			for k := range t.Right {
				t.Right[k] = append(t.Right[k], im.bits&(1<<k) != 0)
			}
		}
	})
	if err != nil {
		return evaluate.Metrics{}, err
	}
	return t.Metrics()
}

// gatherRows returns every rank's rows of x (the same row count on every
// rank) interleaved as a single process's loader would have delivered
// them: row l of rank r is global row r + world·l, since the loader deals
// the epoch's order round-robin.
func (d *dataParallel) gatherRows(x *torch.Tensor) *torch.Tensor {
	if d == nil || d.world() == 1 {
		return x
	}
	parts := make([]*torch.Tensor, d.world())
	for r := range parts {
		if r == d.rank() {
			parts[r] = x.Clone()
		} else {
			parts[r] = torch.ZerosLike(x)
		}
		d.g.Broadcast([]*torch.Tensor{parts[r]}, 0, r)
	}
	shape := slices.Clone(x.Shape())
	shape[0] *= int64(d.world())
	return torch.Stack(parts, 1).Reshape(shape...)
}

// shareOf returns this rank's positions in a global batch of n·world rows
// starting at start: start+rank, start+rank+world, ...
func (d *dataParallel) shareOf(start, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = start + d.rank() + d.world()*i
	}
	return out
}

// barrier waits for every rank.
func (d *dataParallel) barrier() error {
	if d == nil {
		return nil
	}
	return torch.Try(d.g.Barrier)
}

// fail tells the other ranks why this one stops.
func (d *dataParallel) fail(err error) {
	if d != nil && err != nil {
		d.g.Fail(err.Error())
	}
}

func (d *dataParallel) String() string {
	if d == nil {
		return "single process"
	}
	return d.launch.String()
}

func (d *dataParallel) close() {
	if d != nil {
		d.g.Close()
	}
}
