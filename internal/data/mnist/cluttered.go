package mnist

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/racnn/racnn/internal/data"
)

// Options configures Generate.
type Options struct {
	Source string // IDX folder, npm package folder or .tgz (see Open)
	Out    string // data-set root; Out/train and Out/test are written

	Canvas      int // canvas side in pixels (0: 128)
	Clutter     int // clutter pieces per canvas (0: none; DefaultOptions has 8)
	ClutterSize int // side of a clutter piece (0: 8)
	// Placements is how many canvases each source digit appears on when
	// Train/Test are 0 (default 1).
	Placements int
	// Train and Test are the canvas counts; 0 means every digit of the
	// split's pool times Placements. Digits are used in a seeded random
	// order and reused cyclically when a count exceeds the pool.
	Train, Test int
	// TestFraction is the share of each class that goes to the test pool
	// when the source is a single pool (the npm package); default 0.2.
	// Official IDX files keep their own train/test split.
	TestFraction float64
	Seed         uint64 // 0 means 1; everything written is a function of the seed
	Workers      int    // PNG writers; default GOMAXPROCS
	Force        bool   // replace existing Out/train and Out/test
}

// DefaultOptions are the command's defaults: 128-pixel canvases with 8
// clutter pieces of 8×8, every digit placed once, seed 1.
func DefaultOptions() Options {
	o := Options{Source: "data/mnist", Out: "data/cluttered-mnist", Clutter: 8}
	o.defaults()
	o.Workers = 0 // one per CPU, decided when Generate runs
	return o
}

// defaults fills the zero fields that have a default and validates.
func (o *Options) defaults() error {
	if o.Canvas == 0 {
		o.Canvas = 128
	}
	if o.ClutterSize == 0 {
		o.ClutterSize = 8
	}
	if o.Placements == 0 {
		o.Placements = 1
	}
	if o.TestFraction == 0 {
		o.TestFraction = 0.2
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	switch {
	case o.Canvas < Side:
		return fmt.Errorf("canvas %d is smaller than a digit (%d)", o.Canvas, Side)
	case o.Clutter < 0:
		return fmt.Errorf("clutter count %d is negative", o.Clutter)
	case o.ClutterSize < 1 || o.ClutterSize > Side:
		return fmt.Errorf("clutter size %d must be in 1..%d", o.ClutterSize, Side)
	case o.Placements < 0 || o.Train < 0 || o.Test < 0:
		return fmt.Errorf("placements and counts must not be negative")
	case o.TestFraction <= 0 || o.TestFraction >= 1:
		return fmt.Errorf("test fraction %g must be in (0, 1)", o.TestFraction)
	case o.Out == "":
		return errors.New("no output folder")
	}
	return nil
}

// Summary reports what Generate wrote.
type Summary struct {
	Source                  string
	Out                     string
	Train, Test             int // canvases written
	TrainDigits, TestDigits int // distinct source digits in each pool
	Elapsed                 time.Duration
}

// Canvas is one composed cluttered canvas.
type Canvas struct {
	Pix   []uint8     // Size×Size grey, row-major
	Size  int         // side
	At    image.Point // top-left corner of the 28×28 digit patch
	Box   data.Box    // tight box of the digit's ink (pixels > 0) on the canvas
	Label int
}

// Compose draws one canvas: clutter pieces — random size×size patches, each
// cut around the ink of a digit in clutter (one piece per entry) — at
// uniformly random positions, then the digit at a uniformly random position
// with its whole 28×28 patch inside the canvas; overlaps keep the brighter
// pixel. Box is the tight box of the digit's ink: every pixel the digit sets
// above 0 lies inside it and each of its four edges touches such a pixel. A
// digit without ink gets a zero box at its patch's centre.
func Compose(size int, digit []uint8, label int, clutter [][]uint8, clutterSize int, rng *rand.Rand) Canvas {
	c := Canvas{Pix: make([]uint8, size*size), Size: size, Label: label}
	for _, src := range clutter {
		x0, y0, x1, y1 := inkBounds(src)
		if x1 <= x0 {
			x0, y0, x1, y1 = 0, 0, Side, Side
		}
		// A patch whose centre is a random pixel of the ink's bounding box,
		// moved inside the 28×28 digit.
		cx, cy := x0+rng.IntN(x1-x0), y0+rng.IntN(y1-y0)
		px := min(max(cx-clutterSize/2, 0), Side-clutterSize)
		py := min(max(cy-clutterSize/2, 0), Side-clutterSize)
		qx, qy := rng.IntN(size-clutterSize+1), rng.IntN(size-clutterSize+1)
		for y := 0; y < clutterSize; y++ {
			row := c.Pix[(qy+y)*size+qx : (qy+y)*size+qx+clutterSize]
			from := src[(py+y)*Side+px : (py+y)*Side+px+clutterSize]
			for x, v := range from {
				row[x] = max(row[x], v)
			}
		}
	}
	c.At = image.Pt(rng.IntN(size-Side+1), rng.IntN(size-Side+1))
	for y := 0; y < Side; y++ {
		row := c.Pix[(c.At.Y+y)*size+c.At.X : (c.At.Y+y)*size+c.At.X+Side]
		for x, v := range digit[y*Side : (y+1)*Side] {
			row[x] = max(row[x], v)
		}
	}
	x0, y0, x1, y1 := inkBounds(digit)
	if x1 <= x0 {
		x0, y0, x1, y1 = Side/2, Side/2, Side/2, Side/2
	}
	c.Box = data.Box{X: float64(c.At.X + x0), Y: float64(c.At.Y + y0), W: float64(x1 - x0), H: float64(y1 - y0)}
	return c
}

// inkBounds is the half-open bounding box [x0,x1)×[y0,y1) of the pixels above
// 0 of a 28×28 digit; x1 <= x0 when there are none.
func inkBounds(d []uint8) (x0, y0, x1, y1 int) {
	x0, y0 = Side, Side
	for y := 0; y < Side; y++ {
		for x, v := range d[y*Side : (y+1)*Side] {
			if v > 0 {
				x0, y0 = min(x0, x), min(y0, y)
				x1, y1 = max(x1, x+1), max(y1, y+1)
			}
		}
	}
	return
}

// Plan is what Generate writes for one split, before any pixel is drawn:
// which source digit and which clutter digits each canvas uses.
type Plan struct {
	Split   string
	Pool    *Digits // the split's digits; indices below refer to it
	Digit   []int   // Digit[k]: the digit on canvas k
	Clutter [][]int // Clutter[k]: the digits clutter pieces of canvas k are cut from
	Seeds   []uint64
	Files   []string // Files[k]: canvas k's path relative to the split folder
}

// Plans splits the source into disjoint train and test pools and assigns
// digits to canvases. The test pool's digits never appear in train canvases
// (as the digit or as clutter) and vice versa.
func Plans(src *Source, o Options) ([2]*Plan, error) {
	if err := o.defaults(); err != nil {
		return [2]*Plan{}, err
	}
	trainPool, testPool := src.Train, src.Test
	if testPool == nil {
		trainPool, testPool = splitPool(src.Train, o.TestFraction, o.Seed)
	}
	var plans [2]*Plan
	for i, sp := range []struct {
		name string
		pool *Digits
		n    int
	}{{"train", trainPool, o.Train}, {"test", testPool, o.Test}} {
		if sp.pool.Len() < 2 {
			return plans, fmt.Errorf("the %s pool has %d digits; need at least 2 (one for the digit, others for clutter)", sp.name, sp.pool.Len())
		}
		n := sp.n
		if n == 0 {
			n = sp.pool.Len() * o.Placements
		}
		plans[i] = plan(sp.name, sp.pool, n, o)
	}
	return plans, nil
}

func splitSeed(seed uint64, split string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(split))
	return seed ^ h.Sum64()
}

func plan(split string, pool *Digits, n int, o Options) *Plan {
	rng := rand.New(rand.NewPCG(o.Seed, splitSeed(o.Seed, split)))
	p := &Plan{Split: split, Pool: pool, Digit: make([]int, n), Clutter: make([][]int, n), Seeds: make([]uint64, n), Files: make([]string, n)}
	perm := rng.Perm(pool.Len())
	width := len(strconv.Itoa(n - 1))
	for k := 0; k < n; k++ {
		if k > 0 && k%len(perm) == 0 {
			perm = rng.Perm(pool.Len())
		}
		d := perm[k%len(perm)]
		p.Digit[k] = d
		cl := make([]int, o.Clutter)
		for j := range cl {
			c := rng.IntN(pool.Len() - 1)
			if c >= d {
				c++ // any digit but the canvas's own
			}
			cl[j] = c
		}
		p.Clutter[k] = cl
		p.Seeds[k] = rng.Uint64()
		p.Files[k] = fmt.Sprintf("%d/%0*d.png", pool.Labels[d], width, k)
	}
	return p
}

// splitPool sends round(frac·n_c) digits of each class c, chosen by the
// seed, to the test pool and the rest to the train pool.
func splitPool(all *Digits, frac float64, seed uint64) (train, test *Digits) {
	rng := rand.New(rand.NewPCG(seed, splitSeed(seed, "pool")))
	var byClass [10][]int
	for i, l := range all.Labels {
		byClass[l] = append(byClass[l], i)
	}
	train, test = &Digits{}, &Digits{}
	for _, idx := range byClass {
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		nt := int(float64(len(idx))*frac + 0.5)
		for k, i := range idx {
			dst := train
			if k < nt {
				dst = test
			}
			dst.Pix = append(dst.Pix, all.Digit(i)...)
			dst.Labels = append(dst.Labels, all.Labels[i])
		}
	}
	return train, test
}

// Canvas draws canvas k of the plan.
func (p *Plan) Canvas(k int, o Options) Canvas {
	rng := rand.New(rand.NewPCG(p.Seeds[k], uint64(k)))
	cl := make([][]uint8, len(p.Clutter[k]))
	for j, c := range p.Clutter[k] {
		cl[j] = p.Pool.Digit(c)
	}
	d := p.Digit[k]
	return Compose(o.Canvas, p.Pool.Digit(d), int(p.Pool.Labels[d]), cl, o.ClutterSize, rng)
}

// Generate writes the cluttered-MNIST image-folder data set:
//
//	Out/train/<digit>/<k>.png, Out/test/<digit>/<k>.png   8-bit grey PNG canvases
//	Out/train/boxes.txt, Out/test/boxes.txt               "<digit>/<k>.png x y w h" per canvas
//	Out/options.json                                      the options and counts
//
// Boxes are tight boxes of the digit's ink in canvas pixels (origin at the
// top-left corner, x right, y down). The output is a function of the source
// and the options alone (not of Workers). Existing Out/train or Out/test
// are an error unless Force is set.
func Generate(ctx context.Context, o Options) (Summary, error) {
	start := time.Now()
	if err := o.defaults(); err != nil {
		return Summary{}, err
	}
	src, err := Open(o.Source)
	if err != nil {
		return Summary{}, err
	}
	s, err := GenerateFrom(ctx, src, o)
	s.Elapsed = time.Since(start)
	return s, err
}

// GenerateFrom is Generate with the digits already read (o.Source is only
// recorded in options.json).
func GenerateFrom(ctx context.Context, src *Source, o Options) (Summary, error) {
	start := time.Now()
	if err := o.defaults(); err != nil {
		return Summary{}, err
	}
	plans, err := Plans(src, o)
	if err != nil {
		return Summary{}, err
	}
	for _, p := range plans {
		dir := filepath.Join(o.Out, p.Split)
		if _, err := os.Stat(dir); err == nil {
			if !o.Force {
				return Summary{}, fmt.Errorf("%s exists; remove it or pass --force to replace it", dir)
			}
			if err := os.RemoveAll(dir); err != nil {
				return Summary{}, err
			}
		}
	}
	for _, p := range plans {
		if err := writeSplit(ctx, p, o); err != nil {
			return Summary{}, err
		}
	}
	s := Summary{Source: src.Desc, Out: o.Out, Train: len(plans[0].Digit), Test: len(plans[1].Digit),
		TrainDigits: plans[0].Pool.Len(), TestDigits: plans[1].Pool.Len()}
	mo := o
	mo.Workers, mo.Force, mo.Out = 0, false, "" // they do not change what is written
	meta := map[string]any{"options": mo, "source": src.Desc,
		"train": s.Train, "test": s.Test, "train_digits": s.TrainDigits, "test_digits": s.TestDigits}
	js, _ := json.MarshalIndent(meta, "", "  ")
	if err := os.WriteFile(filepath.Join(o.Out, "options.json"), append(js, '\n'), 0o644); err != nil {
		return s, err
	}
	s.Elapsed = time.Since(start)
	return s, nil
}

func writeSplit(ctx context.Context, p *Plan, o Options) error {
	dir := filepath.Join(o.Out, p.Split)
	for c := 0; c < 10; c++ {
		if err := os.MkdirAll(filepath.Join(dir, strconv.Itoa(c)), 0o755); err != nil {
			return err
		}
	}
	boxes := make([]data.Box, len(p.Digit))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	errs := make(chan error, o.Workers)
	var wg sync.WaitGroup
	for w := 0; w < o.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc := png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &pngPool{}}
			for k := range jobs {
				c := p.Canvas(k, o)
				boxes[k] = c.Box
				img := &image.Gray{Pix: c.Pix, Stride: c.Size, Rect: image.Rect(0, 0, c.Size, c.Size)}
				if err := writePNG(filepath.Join(dir, p.Files[k]), img, &enc); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
feed:
	for k := range p.Digit {
		select {
		case jobs <- k:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "boxes.txt"))
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	for k, b := range boxes {
		fmt.Fprintf(bw, "%s %g %g %g %g\n", p.Files[k], b.X, b.Y, b.W, b.H)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writePNG(path string, img image.Image, enc *png.Encoder) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 8192)
	if err := enc.Encode(bw, img); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// pngPool keeps one encoder buffer per worker.
type pngPool struct{ b *png.EncoderBuffer }

func (p *pngPool) Get() *png.EncoderBuffer  { return p.b }
func (p *pngPool) Put(b *png.EncoderBuffer) { p.b = b }
