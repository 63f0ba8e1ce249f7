// Package loader feeds batches of transformed samples to the trainer.
//
// A Loader holds one split (data.Dataset), a transform.Pipeline and a
// Config. Each call to Epoch starts worker goroutines that decode and
// transform the shard's items straight into the memory of contiguous batch
// slices, and delivers the batches in a fixed order through a channel with a
// bounded prefetch queue.
//
// Determinism: the epoch's order is a permutation drawn from (Seed, epoch);
// the sharding and batching are fixed functions of that order; each sample's
// augmentation draws from its own generator seeded by (Seed, epoch, item
// index). So an epoch's batches — their membership, order and every float —
// depend only on the data, the Config and the epoch number, never on the
// number of workers or on scheduling.
//
// Sharding for data-parallel training (Rank of WorldSize): the epoch's order
// is dealt round-robin, shard r taking positions r, r+W, r+2W, … (as
// PyTorch's DistributedSampler). Without DropLast every item appears in
// exactly one shard exactly once per epoch; shards then differ by at most one
// item, so the ranks' last batches (and possibly their batch counts) differ.
// With DropLast the order is first cut to a multiple of WorldSize (the last
// N mod W items of the permutation are dropped), so every shard has the same
// number of items, and then each shard drops its last partial batch: every
// rank runs the same number of full batches, as synchronous data-parallel
// steps need. Nothing is ever padded or repeated.
//
// Stopping: an epoch stops when its batches are all delivered, when ctx is
// cancelled, or when Close is called; Close waits until every goroutine of
// the epoch has returned, so a consumer that quits early leaks nothing.
package loader

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/racnn/racnn/internal/data"
	"github.com/racnn/racnn/internal/data/transform"
)

// DecodeFunc decodes the image file at path into 8-bit RGB, as
// data.DecodeFileSized does: minSide is the smallest shorter side the
// pipeline keeps detail for, and the decoder may return a reduced image
// (JPEG DCT scaling) whose full-resolution, upright size is
// info.OrientedSize(); item boxes are mapped with info.OrientBox. A decoder
// that returns a zero DecodeInfo is taken to deliver the full-size image in
// the pixel grid of the boxes.
type DecodeFunc func(path string, minSide int) (*data.Image, data.DecodeInfo, error)

// Config configures a Loader.
type Config struct {
	BatchSize int
	// Workers is the number of decoding goroutines; 0 means GOMAXPROCS.
	Workers int
	// Prefetch is the number of batches prepared ahead of the consumer (the
	// bound of the queue between the workers and the consumer); 0 means 2.
	Prefetch int
	// Shuffle draws a new order every epoch; otherwise items come in data
	// set order (then sharded).
	Shuffle  bool
	DropLast bool
	Seed     uint64
	// Rank and WorldSize select this process's shard; WorldSize 0 means 1.
	Rank, WorldSize int
	// Decode reads an image file; nil means data.DecodeFileSized.
	Decode DecodeFunc
	// BadImages applies the bad-image policy (the run's one value, shared by
	// its loaders, counts what was skipped); nil means data.BadImageFail.
	// Under fail the epoch delivers the image's error and stops; under skip
	// the sample is left out of its batch (the batch is shorter, or not
	// delivered when nothing is left), warned about and counted.
	BadImages *data.BadImages
}

// Loader delivers the batches of one split, epoch after epoch.
type Loader struct {
	ds   *data.Dataset
	p    *transform.Pipeline
	cfg  Config
	free chan *Batch // released batches for reuse
}

// New validates cfg and returns a Loader over ds with pipeline p.
func New(ds *data.Dataset, p *transform.Pipeline, cfg Config) (*Loader, error) {
	if ds == nil || p == nil {
		return nil, errors.New("loader: nil data set or pipeline")
	}
	if cfg.BatchSize <= 0 {
		return nil, fmt.Errorf("loader: batch size must be positive, got %d", cfg.BatchSize)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Prefetch <= 0 {
		cfg.Prefetch = 2
	}
	if cfg.WorldSize == 0 {
		cfg.WorldSize = 1
	}
	if cfg.WorldSize < 0 || cfg.Rank < 0 || cfg.Rank >= cfg.WorldSize {
		return nil, fmt.Errorf("loader: rank %d is not in [0, world size %d)", cfg.Rank, cfg.WorldSize)
	}
	if cfg.BadImages == nil {
		cfg.BadImages = &data.BadImages{Policy: data.BadImageFail}
	}
	if _, err := data.ParseOnBadImage(string(cfg.BadImages.Policy)); err != nil {
		return nil, fmt.Errorf("loader: %w", err)
	}
	if cfg.Decode == nil {
		cfg.Decode = data.DecodeFileSized
	}
	return &Loader{ds: ds, p: p, cfg: cfg, free: make(chan *Batch, cfg.Prefetch+2)}, nil
}

// Config returns the resolved configuration.
func (l *Loader) Config() Config { return l.cfg }

// mix64 is SplitMix64's finaliser, used to derive independent seeds.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// SampleRNG is the augmentation generator of item index in epoch: a pure
// function of (seed, epoch, index).
func SampleRNG(seed uint64, epoch, index int) *rand.Rand {
	return rand.New(rand.NewPCG(mix64(seed^mix64(uint64(epoch))), mix64(uint64(index)^0x5a5a5a5a)))
}

// Indices returns the data-set indices of this shard's samples for epoch,
// in delivery order (DropLast already applied).
func (l *Loader) Indices(epoch int) []int {
	n := len(l.ds.Items)
	var order []int
	if l.cfg.Shuffle {
		rng := rand.New(rand.NewPCG(mix64(l.cfg.Seed), mix64(uint64(epoch)+1)))
		order = rng.Perm(n)
	} else {
		order = make([]int, n)
		for i := range order {
			order[i] = i
		}
	}
	w := l.cfg.WorldSize
	if l.cfg.DropLast {
		order = order[:n/w*w]
	}
	var shard []int
	for i := l.cfg.Rank; i < len(order); i += w {
		shard = append(shard, order[i])
	}
	if l.cfg.DropLast {
		shard = shard[:len(shard)/l.cfg.BatchSize*l.cfg.BatchSize]
	}
	return shard
}

// NumBatches is the number of batches of this shard per epoch (fewer may be
// delivered when the skip policy drops every sample of a batch).
func (l *Loader) NumBatches() int {
	n := len(l.ds.Items)
	w, b := l.cfg.WorldSize, l.cfg.BatchSize
	if l.cfg.DropLast {
		return n / w / b
	}
	per := n / w
	if l.cfg.Rank < n%w {
		per++
	}
	return (per + b - 1) / b
}

// Batch is a batch of samples as contiguous slices, ready to be copied into
// tensors. Sizes: Source is N×3×SourceSize×SourceSize and Input
// N×3×InputSize×InputSize floats (normalised CHW, see transform).
type Batch struct {
	Index      int // position of the batch in this shard's epoch
	N          int
	SourceSize int
	InputSize  int
	Source     []float32
	// Input is the scale-1 input; it is the same slice as Source when
	// InputSize == SourceSize. Treat both as read-only.
	Input   []float32
	Labels  []int64
	Boxes   []data.Box // object boxes in source-tensor pixels; zero when !HasBox[i]
	HasBox  []bool
	Indices []int // data-set indices of the samples

	owner *Loader
}

// Release hands the batch's memory back to the loader for reuse by later
// batches. Optional; the batch must not be used afterwards.
func (b *Batch) Release() {
	if b == nil || b.owner == nil {
		return
	}
	o := b.owner
	b.owner = nil
	select {
	case o.free <- b:
	default:
	}
}

func (l *Loader) newBatch(n int) *Batch {
	var b *Batch
	select {
	case b = <-l.free:
	default:
		b = &Batch{}
	}
	b.owner = l
	b.N = n
	b.SourceSize = l.p.Config().SourceSize
	b.InputSize = l.p.Config().InputSize
	b.Source = resize(b.Source, n*l.p.SourceLen())
	if l.p.SharedInput() {
		b.Input = b.Source
	} else {
		if len(b.Input) > 0 && &b.Input[0] == &b.Source[0] {
			b.Input = nil
		}
		b.Input = resize(b.Input, n*l.p.InputLen())
	}
	b.Labels = resize(b.Labels, n)
	b.Boxes = resize(b.Boxes, n)
	b.HasBox = resize(b.HasBox, n)
	b.Indices = resize(b.Indices, n)
	return b
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Result is one delivery of an epoch: a batch, or the error that ended the
// epoch.
type Result struct {
	Batch *Batch
	Err   error
}

// Skipped is a sample left out under the skip policy.
type Skipped struct {
	Index int
	Path  string
	Err   error
}

// Epoch is one pass over the shard. Read Batches until it is closed, then
// check Err; call Close in any case (it is safe to call more than once).
type Epoch struct {
	out    chan Result
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	skipped []Skipped
	err     error
}

// pending is a batch being filled by the workers.
type pending struct {
	b         *Batch
	errs      []error
	remaining atomic.Int32
	done      chan struct{}
}

type job struct {
	p    *pending
	slot int
}

// Epoch starts epoch number epoch (0-based; it seeds the order and the
// augmentation). Batches come in order on Batches(); the channel is closed
// after the last batch, after a fail-policy error, or when ctx is cancelled or
// Close is called.
func (l *Loader) Epoch(ctx context.Context, epoch int) *Epoch {
	ctx, cancel := context.WithCancel(ctx)
	e := &Epoch{out: make(chan Result), cancel: cancel}
	idx := l.Indices(epoch)
	bs := l.cfg.BatchSize
	ordered := make(chan *pending, l.cfg.Prefetch)
	jobs := make(chan job, bs)

	// Dispatcher: allocates batches in order, queues them for the emitter
	// (the bounded queue holds at most Prefetch batches), hands out slots.
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(jobs)
		defer close(ordered)
		for k := 0; k*bs < len(idx); k++ {
			items := idx[k*bs : min((k+1)*bs, len(idx))]
			b := l.newBatch(len(items))
			b.Index = k
			p := &pending{b: b, errs: make([]error, len(items)), done: make(chan struct{})}
			p.remaining.Store(int32(len(items)))
			for s, i := range items {
				it := &l.ds.Items[i]
				b.Indices[s] = i
				b.Labels[s] = int64(it.Label)
			}
			select {
			case ordered <- p:
			case <-ctx.Done():
				return
			}
			for s := range items {
				select {
				case jobs <- job{p, s}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()

	// Workers: decode and transform one sample into its slot.
	for w := 0; w < l.cfg.Workers; w++ {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			for {
				select {
				case j, ok := <-jobs:
					if !ok {
						return
					}
					j.p.errs[j.slot] = l.fill(j.p.b, j.slot, epoch)
					if j.p.remaining.Add(-1) == 0 {
						close(j.p.done)
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}

	// Emitter: waits for each batch in order and delivers it.
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(e.out)
		for p := range ordered {
			select {
			case <-p.done:
			case <-ctx.Done():
				e.setErr(ctx.Err())
				return
			}
			b, err := l.finish(e, p)
			if err != nil {
				e.setErr(err)
				select {
				case e.out <- Result{Err: err}:
				case <-ctx.Done():
				}
				cancel()
				return
			}
			if b == nil {
				continue // every sample skipped
			}
			select {
			case e.out <- Result{Batch: b}:
			case <-ctx.Done():
				e.setErr(ctx.Err())
				return
			}
		}
	}()
	return e
}

// fill decodes and transforms the sample in slot s of b.
func (l *Loader) fill(b *Batch, s, epoch int) error {
	i := b.Indices[s]
	it := &l.ds.Items[i]
	path := l.path(it)
	img, info, err := l.cfg.Decode(path, l.p.MinShorterSide())
	if err != nil {
		return nameFile(path, err)
	}
	ow, oh := info.OrientedSize()
	box := it.Box
	if box != nil && info.Orientation > 1 {
		b := info.OrientBox(*box)
		box = &b
	}
	sl, il := l.p.SourceLen(), l.p.InputLen()
	var in []float32
	if !l.p.SharedInput() {
		in = b.Input[s*il : (s+1)*il]
	}
	box, err = l.p.Apply(img, ow, oh, box, SampleRNG(l.cfg.Seed, epoch, i), b.Source[s*sl:(s+1)*sl], in)
	if err != nil {
		return nameFile(path, err)
	}
	b.HasBox[s] = box != nil
	b.Boxes[s] = data.Box{}
	if box != nil {
		b.Boxes[s] = *box
	}
	return nil
}

// nameFile makes sure an image's error names its file.
func nameFile(path string, err error) error {
	if strings.Contains(err.Error(), path) {
		return err
	}
	return &data.ImageError{Path: path, Err: err}
}

func (l *Loader) path(it *data.Item) string {
	if filepath.IsAbs(it.Path) || l.ds.Root == "" {
		return it.Path
	}
	return filepath.Join(l.ds.Root, it.Path)
}

// finish applies the bad-image policy to a filled batch: the first error
// under fail; under skip the failed samples (already warned about and
// counted by BadImages.Handle) are recorded and squeezed out (nil when none
// is left).
func (l *Loader) finish(e *Epoch, p *pending) (*Batch, error) {
	b := p.b
	bad := 0
	for s, err := range p.errs {
		if err == nil {
			continue
		}
		bad++
		if err := l.cfg.BadImages.Handle(l.path(&l.ds.Items[b.Indices[s]]), err); err != nil {
			b.Release()
			return nil, err // policy fail
		}
	}
	if bad == 0 {
		return b, nil
	}
	sl, il := l.p.SourceLen(), l.p.InputLen()
	n := 0
	for s, err := range p.errs {
		if err != nil {
			i := b.Indices[s]
			e.mu.Lock()
			e.skipped = append(e.skipped, Skipped{Index: i, Path: l.path(&l.ds.Items[i]), Err: err})
			e.mu.Unlock()
			continue
		}
		if n != s {
			copy(b.Source[n*sl:(n+1)*sl], b.Source[s*sl:(s+1)*sl])
			if !l.p.SharedInput() {
				copy(b.Input[n*il:(n+1)*il], b.Input[s*il:(s+1)*il])
			}
			b.Labels[n], b.Boxes[n], b.HasBox[n], b.Indices[n] = b.Labels[s], b.Boxes[s], b.HasBox[s], b.Indices[s]
		}
		n++
	}
	if n == 0 {
		b.Release()
		return nil, nil
	}
	b.N = n
	b.Source = b.Source[:n*sl]
	if l.p.SharedInput() {
		b.Input = b.Source
	} else {
		b.Input = b.Input[:n*il]
	}
	b.Labels, b.Boxes, b.HasBox, b.Indices = b.Labels[:n], b.Boxes[:n], b.HasBox[:n], b.Indices[:n]
	return b, nil
}

func (e *Epoch) setErr(err error) {
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.mu.Unlock()
}

// Batches is the channel the epoch's results arrive on.
func (e *Epoch) Batches() <-chan Result { return e.out }

// Close stops the epoch and waits for all its goroutines to return. Batches
// already received stay valid.
func (e *Epoch) Close() {
	e.cancel()
	for range e.out { // unblock the emitter if it is sending
	}
	e.wg.Wait()
}

// Err is the error that ended the epoch early (a fail-policy error, or the
// context's error when it was cancelled before the last batch); nil after a
// complete epoch. Valid once Batches is closed.
func (e *Epoch) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// Skipped lists the samples this epoch left out under the skip policy so
// far, in delivery order (data.BadImages counts them over the whole run).
func (e *Epoch) Skipped() []Skipped {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Skipped(nil), e.skipped...)
}
