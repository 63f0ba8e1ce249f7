package torch

import (
	bin "encoding/binary"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Data parallelism through the process group: 2 processes (this test binary
// run again as workers, the way torchrun starts ranks) each train smallCNN
// on half of every batch with gradients averaged, and must end with the
// same parameters as one process trained on the whole batches.

const (
	distSteps    = 6
	distPerRank  = 4 // images per rank and step
	distSide     = 8
	distClasses  = 3
	distLR       = 0.05
	distMomentum = 0.9
)

// distBatch is step k's combined batch (both ranks' images), the same in
// every process.
func distBatch(k int) (*Tensor, *Tensor) {
	n := 2 * distPerRank
	x := make([]float32, n*distSide*distSide)
	y := make([]int64, n)
	for i := range x {
		x[i] = float32(math.Sin(float64(i*7+k*131) * 0.37))
	}
	for i := range y {
		y[i] = int64((i + k) % distClasses)
	}
	return FromSlice(x, int64(n), 1, distSide, distSide), FromSlice(y, int64(n))
}

// distTrain trains smallCNN for distSteps SGD steps. With a group, the model
// starts from rank 0's parameters (each rank draws its own first), trains on
// its rank's rows of every batch and averages the gradients in buckets of
// bucketBytes.
func distTrain(g *Group, bucketBytes int64) []float32 {
	rank, world := 0, 1
	if g != nil {
		rank, world = g.Rank(), g.World()
	}
	ManualSeed(uint64(7 + rank))
	m := newSmallCNN(1, distSide, distClasses, CPU)
	defer m.free()
	if g != nil {
		g.Broadcast(m.params, 1<<20, 0)
	}
	opt := NewSGD([]*ParamGroup{{Params: m.params, LR: distLR}}, distMomentum, 0, false)
	defer opt.Free()
	for k := 0; k < distSteps; k++ {
		WithScope(func() {
			x, y := distBatch(k)
			per := x.Size(0) / int64(world)
			x, y = x.Narrow(0, int64(rank)*per, per), y.Narrow(0, int64(rank)*per, per)
			opt.ZeroGrad()
			CrossEntropy(m.forward(x), y, ReduceMean, 0).Backward()
			if g != nil {
				grads := make([]*Tensor, len(m.params))
				for i, p := range m.params {
					grads[i] = p.Grad()
				}
				g.AllReduce(grads, bucketBytes, 1/float64(world))
			}
			opt.Step()
		})
	}
	var out []float32
	for _, p := range m.params {
		out = append(out, p.Float32s()...)
	}
	return out
}

// freePort returns a TCP port nobody listens on now.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startRanks runs this test binary as world worker processes of test
// (which reads RACNN_DIST_OUT), torchrun's variables set.
func startRanks(t *testing.T, test string, world int, extra ...string) ([]*exec.Cmd, []string, []*strings.Builder) {
	port := freePort(t)
	dir := t.TempDir()
	var cmds []*exec.Cmd
	var outs []string
	var logs []*strings.Builder
	for r := 0; r < world; r++ {
		out := filepath.Join(dir, fmt.Sprintf("rank%d.bin", r))
		cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
		cmd.Env = append(os.Environ(), "RACNN_DIST_WORKER=1", "RACNN_DIST_OUT="+out,
			"RANK="+strconv.Itoa(r), "WORLD_SIZE="+strconv.Itoa(world),
			"MASTER_ADDR=127.0.0.1", "MASTER_PORT="+strconv.Itoa(port))
		cmd.Env = append(cmd.Env, extra...)
		var log strings.Builder
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs, logs = append(cmds, cmd), append(outs, out), append(logs, &log)
	}
	return cmds, outs, logs
}

// workerGroup joins the group the parent described in the environment.
func workerGroup(t *testing.T, timeout time.Duration) *Group {
	rank, _ := strconv.Atoi(os.Getenv("RANK"))
	world, _ := strconv.Atoi(os.Getenv("WORLD_SIZE"))
	port, _ := strconv.Atoi(os.Getenv("MASTER_PORT"))
	g, err := NewGroup(GroupOptions{Addr: os.Getenv("MASTER_ADDR"), Port: port, HostStore: rank == 0,
		Rank: rank, World: world, Timeout: timeout, CUDADevice: -1})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func writeFloats(t *testing.T, path string, v []float32) {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		bin.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFloats(t *testing.T, path string) []float32 {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(bin.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// TestDistWorker is one rank of TestDistDataParallel (it skips when run
// directly).
func TestDistWorker(t *testing.T) {
	if os.Getenv("RACNN_DIST_WORKER") != "1" {
		t.Skip("a worker of TestDistDataParallel")
	}
	SetNumThreads(1)
	g := workerGroup(t, 30*time.Second)
	defer g.Close()
	var out []float32
	if err := Try(func() {
		bucket, _ := strconv.ParseInt(os.Getenv("RACNN_DIST_BUCKET"), 10, 64)
		out = distTrain(g, bucket)
		// The gathered records carry each rank's own values, by rank.
		got := g.AllGatherInt64s([]int64{int64(g.Rank()), int64(10 * g.Rank())})
		for r, v := range got {
			if len(v) != 2 || v[0] != int64(r) || v[1] != int64(10*r) {
				t.Errorf("all-gather: rank %d sent %v", r, v)
			}
		}
		g.Barrier()
	}); err != nil {
		t.Fatal(err)
	}
	writeFloats(t, os.Getenv("RACNN_DIST_OUT"), out)
}

func TestDistDataParallel(t *testing.T) {
	if os.Getenv("RACNN_DIST_WORKER") == "1" {
		t.Skip("worker process")
	}
	SetNumThreads(1)
	var want []float32
	if err := Try(func() { want = distTrain(nil, 0) }); err != nil {
		t.Fatal(err)
	}
	// Flat buckets (2 of them for smallCNN's ~7 KB of gradients) and one
	// tensor at a time must both give the combined batch's update.
	// The configurations run at the same time: process start-up dominates.
	buckets := []int64{4 << 10, 0}
	type run struct {
		cmds []*exec.Cmd
		outs []string
		logs []*strings.Builder
	}
	runs := make([]run, len(buckets))
	for i, bucket := range buckets {
		runs[i].cmds, runs[i].outs, runs[i].logs = startRanks(t, "TestDistWorker", 2, "RACNN_DIST_BUCKET="+strconv.FormatInt(bucket, 10))
	}
	for i, bucket := range buckets {
		cmds, outs, logs := runs[i].cmds, runs[i].outs, runs[i].logs
		for r, c := range cmds {
			if err := c.Wait(); err != nil {
				t.Fatalf("bucket %d: rank %d: %v\n%s", bucket, r, err, logs[r])
			}
		}
		got0, got1 := readFloats(t, outs[0]), readFloats(t, outs[1])
		if len(got0) != len(want) || len(got1) != len(want) {
			t.Fatalf("bucket %d: %d and %d parameters, want %d", bucket, len(got0), len(got1), len(want))
		}
		worst := 0.0
		for i := range want {
			if got0[i] != got1[i] {
				t.Fatalf("bucket %d: ranks differ at parameter value %d: %g vs %g", bucket, i, got0[i], got1[i])
			}
			worst = math.Max(worst, math.Abs(float64(got0[i]-want[i])))
		}
		if worst > 1e-5 {
			t.Errorf("bucket %d: 2 ranks vs one process on the combined batch: largest difference %g > 1e-5", bucket, worst)
		}
		t.Logf("bucket %d: ranks identical, largest difference to one process %.2g", bucket, worst)
	}
}

// TestDistDeadOrHungRank: a rank that exits before a collective makes the other
// fail at once (not at the timeout) with a message naming it; one that
// stops answering makes it fail at the timeout, also named.
func TestDistDeadOrHungRank(t *testing.T) {
	if os.Getenv("RACNN_DIST_WORKER") == "1" {
		t.Skip("worker process")
	}
	hows := []string{"exit", "hang", "fail"}
	// The timeout also bounds joining, which six processes starting at
	// once on two loaded cores can take seconds to do (seen in make test:
	// "could not join ... within 3s"). The hang case waits it out, so it
	// gets 10 s; the others must fail long before theirs.
	timeouts := map[string]string{"exit": "30s", "hang": "10s", "fail": "30s"}
	cmds := make([][]*exec.Cmd, len(hows))
	logs := make([][]*strings.Builder, len(hows))
	for i, how := range hows {
		cmds[i], _, logs[i] = startRanks(t, "TestDistFaultWorker", 2, "RACNN_DIST_FAULT="+how, "RACNN_DIST_TIMEOUT="+timeouts[how])
	}
	for i, how := range hows {
		err0 := cmds[i][0].Wait()
		if how == "hang" {
			cmds[i][1].Process.Kill()
		}
		cmds[i][1].Wait()
		if err0 == nil {
			t.Fatalf("%s: rank 0 succeeded:\n%s", how, logs[i][0])
		}
		log := logs[i][0].String()
		want := map[string]string{"exit": "rank 1 exited or lost its connection", "hang": "rank 1 did not reach it within runtime.dist_timeout 10s",
			"fail": "rank 1 stopped: bad image x.jpg"}[how]
		if !strings.Contains(log, want) {
			t.Errorf("%s: rank 0's error does not say %q:\n%s", how, want, log)
		}
		// How long it waited is in the message; the exit case must not
		// have waited for the timeout.
		line := lastLine(log)
		t.Logf("%s: %s", how, line)
		if how != "hang" && strings.Contains(line, "failed after 30.") {
			t.Errorf("%s: rank 0 waited for the timeout: %s", how, line)
		}
	}
}

// TestDistFaultWorker is a rank of TestDistDeadOrHungRank: rank 1 exits,
// hangs or reports a failure before the second collective.
func TestDistFaultWorker(t *testing.T) {
	if os.Getenv("RACNN_DIST_WORKER") != "1" {
		t.Skip("a worker of TestDistDeadOrHungRank")
	}
	timeout, err := time.ParseDuration(os.Getenv("RACNN_DIST_TIMEOUT"))
	if err != nil {
		t.Fatal(err)
	}
	g := workerGroup(t, timeout)
	defer g.Close()
	err = Try(func() {
		WithScope(func() {
			x := Ones([]int64{4})
			g.AllReduce([]*Tensor{x}, 0, 1)
			if g.Rank() == 1 {
				switch os.Getenv("RACNN_DIST_FAULT") {
				case "exit":
					os.Exit(3)
				case "hang":
					time.Sleep(time.Minute)
				case "fail":
					g.Fail("bad image x.jpg")
					os.Exit(1)
				}
			}
			g.AllReduce([]*Tensor{x}, 0, 1)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func lastLine(s string) string {
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if strings.Contains(l, "rank 0:") {
			return strings.TrimSpace(l)
		}
	}
	return s
}

// TestDistBenchWorker is one process of scripts/bench-dist.sh (it skips
// otherwise): smallCNN training steps on random batches, with the
// gradients averaged over RACNN_DIST_BENCH_WORLD processes (1: no group).
// Rank 0 prints the mean step time.
func TestDistBenchWorker(t *testing.T) {
	if os.Getenv("RACNN_DIST_BENCH") == "" {
		t.Skip("run by scripts/bench-dist.sh")
	}
	num := func(k string) int { v, _ := strconv.Atoi(os.Getenv(k)); return v }
	batch, side, steps, threads := num("BENCH_BATCH"), int64(num("BENCH_SIDE")), num("BENCH_STEPS"), num("BENCH_THREADS")
	SetNumThreads(threads)
	var g *Group
	if os.Getenv("WORLD_SIZE") != "" {
		g = workerGroup(t, time.Minute)
		defer g.Close()
	}
	err := Try(func() {
		ManualSeed(1)
		m := newSmallCNN(3, side, 10, CPU)
		defer m.free()
		if g != nil {
			g.Broadcast(m.params, 25<<20, 0)
		}
		opt := NewSGD([]*ParamGroup{{Params: m.params, LR: 0.01}}, 0.9, 0, false)
		defer opt.Free()
		step := func() {
			WithScope(func() {
				x := Randn([]int64{int64(batch), 3, side, side})
				y := FromSlice(make([]int64, batch), int64(batch))
				opt.ZeroGrad()
				CrossEntropy(m.forward(x), y, ReduceMean, 0).Backward()
				if g != nil {
					grads := make([]*Tensor, len(m.params))
					for i, p := range m.params {
						grads[i] = p.Grad()
					}
					g.AllReduce(grads, 25<<20, 1/float64(g.World()))
				}
				opt.Step()
			})
		}
		for i := 0; i < 5; i++ {
			step()
		}
		if g != nil {
			g.Barrier()
		}
		start := time.Now()
		for i := 0; i < steps; i++ {
			step()
		}
		if g == nil || g.Rank() == 0 {
			fmt.Printf("BENCH step_ms %.3f\n", float64(time.Since(start).Microseconds())/1000/float64(steps))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}
