package loader

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/racnn/racnn/internal/data"
	"github.com/racnn/racnn/internal/data/transform"
)

var unit = transform.Norm{Mean: [3]float32{0, 0, 0}, Std: [3]float32{1, 1, 1}}

// fakeDataset has n items "img/<i>" (label i%7, a box on every third);
// paths listed in bad fail to decode.
func fakeDataset(n int, bad ...int) *data.Dataset {
	ds := &data.Dataset{Name: "fake", Split: "train"}
	for i := 0; i < n; i++ {
		it := data.Item{Path: "img/" + strconv.Itoa(i), Label: i % 7}
		if slices.Contains(bad, i) {
			it.Path += "/bad"
		}
		if i%3 == 0 {
			it.Box = &data.Box{X: 2, Y: 3, W: 10, H: 6}
		}
		ds.Items = append(ds.Items, it)
	}
	return ds
}

// fakeDecode makes item i's image: (20+i%5)×(16+i%3) pixels, red = i%256,
// green = i/256 everywhere, blue a horizontal ramp (so flips and crops show).
func fakeDecode(path string, minSide int) (*data.Image, data.DecodeInfo, error) {
	if strings.HasSuffix(path, "/bad") {
		return nil, data.DecodeInfo{}, errors.New("corrupt JPEG data")
	}
	i, err := strconv.Atoi(strings.TrimPrefix(path, "img/"))
	if err != nil {
		return nil, data.DecodeInfo{}, err
	}
	w, h := 20+i%5, 16+i%3
	img := &data.Image{W: w, H: h, Pix: make([]uint8, w*h*3)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			p := (y*w + x) * 3
			img.Pix[p], img.Pix[p+1], img.Pix[p+2] = uint8(i%256), uint8(i/256), uint8(x*12)
		}
	}
	return img, data.DecodeInfo{}, nil
}

func newLoader(t *testing.T, ds *data.Dataset, cfg Config) *Loader {
	t.Helper()
	p, err := transform.New(transform.Config{Resize: 16, SourceSize: 12, InputSize: 6, Train: true, Norm: unit})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Decode == nil {
		cfg.Decode = fakeDecode
	}
	l, err := New(ds, p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// collect runs one epoch to the end and returns its batches.
func collect(t *testing.T, l *Loader, epoch int) []*Batch {
	t.Helper()
	e := l.Epoch(context.Background(), epoch)
	defer e.Close()
	var out []*Batch
	for r := range e.Batches() {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		out = append(out, r.Batch)
	}
	if err := e.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkContents asserts that every slot holds its own item's pixels and label.
func checkContents(t *testing.T, ds *data.Dataset, b *Batch) {
	t.Helper()
	sl := 3 * b.SourceSize * b.SourceSize
	il := 3 * b.InputSize * b.InputSize
	for s := 0; s < b.N; s++ {
		i := b.Indices[s]
		if b.Labels[s] != int64(ds.Items[i].Label) {
			t.Fatalf("batch %d slot %d: label %d, want %d", b.Index, s, b.Labels[s], ds.Items[i].Label)
		}
		red := float32(i%256) / 255
		for _, v := range [][]float32{b.Source[s*sl : s*sl+sl/3], b.Input[s*il : s*il+il/3]} {
			for _, x := range v {
				if math.Abs(float64(x-red)) > 1e-5 {
					t.Fatalf("batch %d slot %d (item %d): red %g, want %g", b.Index, s, i, x, red)
				}
			}
		}
		if b.HasBox[s] != (ds.Items[i].Box != nil) {
			t.Fatalf("item %d: HasBox %v", i, b.HasBox[s])
		}
	}
}

func TestShardsCoverEveryItemOnce(t *testing.T) {
	const n = 103
	ds := fakeDataset(n)
	for _, world := range []int{1, 2, 3, 4} {
		for _, drop := range []bool{false, true} {
			seen := map[int]int{}
			var perShard []int
			for rank := 0; rank < world; rank++ {
				l := newLoader(t, ds, Config{BatchSize: 8, Workers: 2, Shuffle: true, Seed: 9, Rank: rank, WorldSize: world, DropLast: drop})
				bs := collect(t, l, 4)
				if len(bs) != l.NumBatches() {
					t.Fatalf("world %d rank %d drop %v: %d batches, NumBatches %d", world, rank, drop, len(bs), l.NumBatches())
				}
				got := 0
				for k, b := range bs {
					if b.Index != k {
						t.Fatalf("batch %d has Index %d", k, b.Index)
					}
					if drop && b.N != 8 {
						t.Fatalf("DropLast: batch of %d", b.N)
					}
					checkContents(t, ds, b)
					for _, i := range b.Indices {
						seen[i]++
					}
					got += b.N
				}
				if want := l.Indices(4); got != len(want) {
					t.Fatalf("delivered %d samples, Indices has %d", got, len(want))
				}
				perShard = append(perShard, got)
			}
			for i, c := range seen {
				if c != 1 {
					t.Fatalf("world %d drop %v: item %d delivered %d times", world, drop, i, c)
				}
			}
			if !drop && len(seen) != n {
				t.Fatalf("world %d: %d of %d items delivered", world, len(seen), n)
			}
			if drop {
				want := n / world / 8 * 8
				for r, g := range perShard {
					if g != want {
						t.Fatalf("world %d DropLast: shard %d has %d samples, want %d", world, r, g, want)
					}
				}
			} else if slices.Max(perShard)-slices.Min(perShard) > 1 {
				t.Fatalf("world %d: shard sizes %v differ by more than one", world, perShard)
			}
		}
	}
}

func sameBatches(t *testing.T, a, b []*Batch) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d vs %d batches", len(a), len(b))
	}
	for k := range a {
		x, y := a[k], b[k]
		if x.N != y.N || !slices.Equal(x.Indices, y.Indices) || !slices.Equal(x.Labels, y.Labels) ||
			!slices.Equal(x.Boxes, y.Boxes) || !slices.Equal(x.Source, y.Source) || !slices.Equal(x.Input, y.Input) {
			t.Fatalf("batch %d differs", k)
		}
	}
}

func TestSameSeedSameBatchesWhateverTheWorkers(t *testing.T) {
	ds := fakeDataset(50)
	ref := collect(t, newLoader(t, ds, Config{BatchSize: 6, Workers: 1, Shuffle: true, Seed: 3}), 2)
	for _, w := range []int{2, 3, 8} {
		got := collect(t, newLoader(t, ds, Config{BatchSize: 6, Workers: w, Prefetch: 1 + w%3, Shuffle: true, Seed: 3}), 2)
		sameBatches(t, ref, got)
	}
	// The augmentation is really random: across the epoch, crops and flips
	// give different blue ramps for images of the same size.
	ramps := map[float32]bool{}
	for _, b := range ref {
		for s := 0; s < b.N; s++ {
			ramps[b.Source[s*3*144+2*144]] = true // blue, top-left pixel
		}
	}
	if len(ramps) < 5 {
		t.Fatalf("only %d distinct crops/flips in 50 samples", len(ramps))
	}
	order := func(seed uint64, epoch int) []int {
		return newLoader(t, ds, Config{BatchSize: 6, Shuffle: true, Seed: seed}).Indices(epoch)
	}
	if !slices.Equal(order(3, 2), order(3, 2)) {
		t.Fatal("same seed and epoch, different order")
	}
	if slices.Equal(order(3, 2), order(3, 3)) || slices.Equal(order(3, 2), order(4, 2)) {
		t.Fatal("epoch or seed does not change the order")
	}
	if ord := newLoader(t, ds, Config{BatchSize: 6}).Indices(5); ord[0] != 0 || ord[49] != 49 {
		t.Fatalf("no shuffle: order %v", ord)
	}
}

func TestReleasedBatchesAreReusedSafely(t *testing.T) {
	ds := fakeDataset(40)
	ref := collect(t, newLoader(t, ds, Config{BatchSize: 5, Shuffle: true, Seed: 1}), 0)
	l := newLoader(t, ds, Config{BatchSize: 5, Shuffle: true, Seed: 1})
	e := l.Epoch(context.Background(), 0)
	defer e.Close()
	k := 0
	for r := range e.Batches() {
		b := r.Batch
		if b.N != ref[k].N || !slices.Equal(b.Source, ref[k].Source) || !slices.Equal(b.Input, ref[k].Input) {
			t.Fatalf("batch %d differs when buffers are recycled", k)
		}
		b.Release()
		k++
	}
	if k != len(ref) {
		t.Fatalf("%d batches, want %d", k, len(ref))
	}
}

func TestBadImageFailNamesTheFile(t *testing.T) {
	ds := fakeDataset(30, 17)
	l := newLoader(t, ds, Config{BatchSize: 4, Workers: 2})
	e := l.Epoch(context.Background(), 0)
	defer e.Close()
	var got []Result
	for r := range e.Batches() {
		got = append(got, r)
	}
	last := got[len(got)-1]
	if last.Err == nil || !strings.Contains(last.Err.Error(), "img/17/bad") || !strings.Contains(last.Err.Error(), "corrupt JPEG") {
		t.Fatalf("last result: %v", last.Err)
	}
	if len(got) != 5 { // batches 0..3 hold items 0..15; batch 4 holds 17
		t.Fatalf("%d results before the error stopped the epoch, want 4 batches + the error", len(got))
	}
	if e.Err() != last.Err {
		t.Fatalf("Err() = %v", e.Err())
	}
}

func TestBadImageSkipDropsAndCounts(t *testing.T) {
	ds := fakeDataset(30, 3, 17, 18, 19, 16)
	var warnings []string
	bad := &data.BadImages{Policy: data.BadImageSkip, Warn: func(m string) { warnings = append(warnings, m) }}
	l := newLoader(t, ds, Config{BatchSize: 4, Workers: 3, BadImages: bad})
	bs := collect(t, l, 0)
	total := 0
	for _, b := range bs {
		checkContents(t, ds, b)
		for _, i := range b.Indices {
			if i == 3 || (i >= 16 && i <= 19) {
				t.Fatalf("bad item %d delivered", i)
			}
		}
		total += b.N
	}
	if total != 25 {
		t.Fatalf("%d samples delivered, want 25", total)
	}
	// Batch 4 (items 16..19) was all bad and is not delivered.
	if len(bs) != 7 || bs[0].N != 3 || bs[4].Index != 5 {
		t.Fatalf("%d batches; first has %d samples; fifth has index %d", len(bs), bs[0].N, bs[4].Index)
	}
	e := l.Epoch(context.Background(), 1)
	for range e.Batches() {
	}
	e.Close()
	sk := e.Skipped()
	if len(sk) != 5 || sk[0].Index != 3 || !strings.Contains(sk[0].Path, "img/3/bad") {
		t.Fatalf("skipped: %+v", sk)
	}
	// The run's counter saw 5 distinct images over the two epochs, and
	// warned once for each.
	if bad.Count() != 5 || len(warnings) != 5 || !strings.Contains(warnings[0], "img/3/bad") {
		t.Fatalf("count %d, warnings %q", bad.Count(), warnings)
	}
}

func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before the epoch:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEarlyQuitLeaksNothing(t *testing.T) {
	ds := fakeDataset(400)
	var decoded atomic.Int64
	slow := func(path string, m int) (*data.Image, data.DecodeInfo, error) {
		decoded.Add(1)
		time.Sleep(time.Millisecond)
		return fakeDecode(path, m)
	}
	base := runtime.NumGoroutine()

	// Close after one batch.
	l := newLoader(t, ds, Config{BatchSize: 4, Workers: 4, Prefetch: 2, Decode: slow})
	e := l.Epoch(context.Background(), 0)
	r := <-e.Batches()
	if r.Err != nil || r.Batch.N != 4 {
		t.Fatalf("first result %+v", r)
	}
	e.Close()
	waitGoroutines(t, base)
	if _, ok := <-e.Batches(); ok {
		t.Fatal("batches channel still open after Close")
	}
	// The bounded queue: at most Prefetch+2 batches (queue, emitter, the
	// dispatcher's) were ever decoded ahead of the one consumed.
	if n := decoded.Load(); n > 4*(1+2+2) {
		t.Fatalf("%d images decoded for one consumed batch", n)
	}
	e.Close() // twice is fine

	// Cancel the context after two batches, without Close.
	ctx, cancel := context.WithCancel(context.Background())
	e = l.Epoch(ctx, 1)
	<-e.Batches()
	<-e.Batches()
	cancel()
	for range e.Batches() {
	}
	if !errors.Is(e.Err(), context.Canceled) {
		t.Fatalf("Err after cancel: %v", e.Err())
	}
	waitGoroutines(t, base)

	// A consumer that stops reading and only calls Close.
	e = l.Epoch(context.Background(), 2)
	time.Sleep(20 * time.Millisecond)
	e.Close()
	waitGoroutines(t, base)

	// A complete epoch ends all its goroutines by itself.
	e = newLoader(t, fakeDataset(20), Config{BatchSize: 4}).Epoch(context.Background(), 0)
	for range e.Batches() {
	}
	waitGoroutines(t, base)
	e.Close()
}

func TestConfigErrors(t *testing.T) {
	p, _ := transform.New(transform.Config{SourceSize: 8})
	ds := fakeDataset(3)
	for _, c := range []Config{{}, {BatchSize: 2, Rank: 2, WorldSize: 2}, {BatchSize: 2, BadImages: &data.BadImages{Policy: "ignore"}}} {
		if _, err := New(ds, p, c); err == nil {
			t.Errorf("config %+v: no error", c)
		}
	}
	if _, err := New(nil, p, Config{BatchSize: 1}); err == nil {
		t.Error("nil data set: no error")
	}
}

func TestPathsJoinTheRoot(t *testing.T) {
	ds := fakeDataset(2)
	ds.Root = "/data/x"
	var got []string
	dec := func(path string, m int) (*data.Image, data.DecodeInfo, error) {
		got = append(got, path)
		return nil, data.DecodeInfo{}, fmt.Errorf("stop")
	}
	l := newLoader(t, ds, Config{BatchSize: 2, Workers: 1, Decode: dec})
	e := l.Epoch(context.Background(), 0)
	for range e.Batches() {
	}
	e.Close()
	if len(got) == 0 || !strings.HasPrefix(got[0], "/data/x/img/") {
		t.Fatalf("decoded paths %v", got)
	}
}

// A decoder that reports an EXIF orientation and a reduced decode: the boxes
// follow the orientation, and the crop is planned on the full-size grid.
func TestDecodeInfoOrientsBoxes(t *testing.T) {
	ds := fakeDataset(6)
	rot := func(path string, m int) (*data.Image, data.DecodeInfo, error) {
		img, _, err := fakeDecode(path, m)
		// Stored as a (2W)×(2H) file, turned 180°, decoded at 1/2.
		return img, data.DecodeInfo{Width: 2 * img.W, Height: 2 * img.H, Orientation: 3, Denom: 2}, err
	}
	l := newLoader(t, ds, Config{BatchSize: 6, Workers: 2, Seed: 4, Decode: rot})
	b := collect(t, l, 0)[0]
	checkContents(t, ds, b)
	for s := 0; s < b.N; s++ {
		i := b.Indices[s]
		if ds.Items[i].Box == nil {
			continue
		}
		img, _, _ := fakeDecode(ds.Items[i].Path, 0)
		W, H := 2*img.W, 2*img.H
		ob := data.Box{X: float64(W) - 12, Y: float64(H) - 9, W: 10, H: 6} // 180° turn of {2,3,10,6}
		want := l.p.Plan(W, H, SampleRNG(4, 0, i)).MapBox(ob)
		if b.Boxes[s] != want || !b.HasBox[s] {
			t.Fatalf("item %d: box %+v, want %+v", i, b.Boxes[s], want)
		}
	}
}
