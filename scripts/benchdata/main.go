// Command benchdata measures the training data path on real JPEG files:
// decode → resize shorter side → random crop → flip → normalise → float32
// CHW, first in one goroutine (per-core figure), then through the loader
// with each requested worker count. scripts/bench_data.sh runs it beside the
// same path in PIL + torchvision.
//
//	go run ./scripts/benchdata -dir DIR [-n 400] [-size 448] [-batch 16] [-workers 1,2] [-repeat 3]
//
// Each result line is "racnn <what> <images/s> img/s", the best of -repeat
// runs (the machine may be shared); loader rates exclude the first batch
// (start-up), as the PIL side does.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/racnn/racnn/internal/data"
	"github.com/racnn/racnn/internal/data/loader"
	"github.com/racnn/racnn/internal/data/transform"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchdata:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("dir", "", "folder of .jpg files")
	n := flag.Int("n", 400, "images per measurement (the files are cycled)")
	size := flag.Int("size", 448, "resize shorter side and crop size")
	batch := flag.Int("batch", 16, "batch size for the loader runs")
	workers := flag.String("workers", "1,2", "comma-separated loader worker counts")
	repeat := flag.Int("repeat", 3, "runs per measurement; the best is printed")
	flag.Parse()
	files, _ := filepath.Glob(filepath.Join(*dir, "*.jpg"))
	sort.Strings(files)
	if len(files) == 0 {
		return fmt.Errorf("no .jpg files in %q", *dir)
	}
	p, err := transform.New(transform.Config{Resize: *size, SourceSize: *size, Train: true})
	if err != nil {
		return err
	}
	ds := &data.Dataset{Name: "bench"}
	for i := 0; i < *n; i++ {
		ds.Items = append(ds.Items, data.Item{Path: files[i%len(files)]})
	}
	fmt.Printf("racnn: %d files, %d images per run, GOMAXPROCS %d\n", len(files), *n, runtime.GOMAXPROCS(0))

	// One goroutine, no loader: decode, then transform, into one buffer.
	dst := make([]float32, p.SourceLen())
	var bestDec, bestTf, bestLoop float64
	for r := 0; r < *repeat; r++ {
		var tDec, tTf time.Duration
		rng := rand.New(rand.NewPCG(1, uint64(r)))
		for i, it := range ds.Items {
			t0 := time.Now()
			img, info, err := data.DecodeFileSized(it.Path, p.MinShorterSide())
			if err != nil {
				return err
			}
			t1 := time.Now()
			w, h := info.OrientedSize()
			if _, err := p.Apply(img, w, h, nil, rng, dst, nil); err != nil {
				return err
			}
			if i > 0 { // the first image warms caches
				tDec += t1.Sub(t0)
				tTf += time.Since(t1)
			}
		}
		m := float64(*n - 1)
		bestDec = max(bestDec, m/tDec.Seconds())
		bestTf = max(bestTf, m/tTf.Seconds())
		bestLoop = max(bestLoop, m/(tDec+tTf).Seconds())
	}
	fmt.Printf("racnn decode-only %.1f img/s\n", bestDec)
	fmt.Printf("racnn transform-only %.1f img/s\n", bestTf)
	fmt.Printf("racnn loop %.1f img/s\n", bestLoop)

	for _, ws := range strings.Split(*workers, ",") {
		w, err := strconv.Atoi(strings.TrimSpace(ws))
		if err != nil {
			return fmt.Errorf("-workers: %w", err)
		}
		l, err := loader.New(ds, p, loader.Config{BatchSize: *batch, Workers: w, Shuffle: true, Seed: 1})
		if err != nil {
			return err
		}
		best := 0.0
		for r := 0; r < *repeat; r++ {
			rate, err := epochRate(l, r)
			if err != nil {
				return err
			}
			best = max(best, rate)
		}
		fmt.Printf("racnn workers=%d %.1f img/s\n", w, best)
	}
	return nil
}

// epochRate runs one epoch and returns images/s after the first batch.
func epochRate(l *loader.Loader, epoch int) (float64, error) {
	e := l.Epoch(context.Background(), epoch)
	defer e.Close()
	var start time.Time
	imgs := 0
	for r := range e.Batches() {
		if r.Err != nil {
			return 0, r.Err
		}
		if start.IsZero() {
			start = time.Now()
		} else {
			imgs += r.Batch.N
		}
		r.Batch.Release()
	}
	return float64(imgs) / time.Since(start).Seconds(), nil
}
