package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/racnn/racnn/internal/atomicfile"
	"github.com/racnn/racnn/internal/checkpoint"
	"github.com/racnn/racnn/internal/config"
	"github.com/racnn/racnn/internal/data"
	"github.com/racnn/racnn/internal/data/loader"
	"github.com/racnn/racnn/internal/dist"
	"github.com/racnn/racnn/internal/evaluate"
	"github.com/racnn/racnn/internal/model"
	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/rundata"
	"github.com/racnn/racnn/internal/runlock"
	"github.com/racnn/racnn/internal/torch"
)

// ErrInterrupted is returned when a run stopped on request (Ctrl-C) after
// saving a checkpoint it can be resumed from.
var ErrInterrupted = errors.New("interrupted")

// Options configure a training run.
type Options struct {
	Config config.Config
	RunDir string
	// Resume continues the run in RunDir from its newest checkpoint.
	Resume bool
	// From starts a new run in RunDir from another run's checkpoint, which
	// Config must agree with up to there (CheckFork).
	From string
	// Out receives human progress lines (nil: discarded).
	Out io.Writer
	// Stop, when closed or sent to, asks the run to save and return
	// ErrInterrupted after the current step.
	Stop <-chan struct{}
	// Terminal shows a progress bar with rate and ETA on Out instead of
	// periodic log lines.
	Terminal bool
	// Launch is this process's place in a data-parallel job (nil: a single
	// process; see internal/dist).
	Launch *dist.Launch
	// Restart marks a worker that torchrun restarted (--max_restarts): it
	// resumes from the run's newest checkpoint, or starts the run over in
	// the same directory when none was written yet.
	Restart bool
}

// Result is what a finished run reports.
type Result struct {
	RunDir string
	Test   evaluate.Metrics // the kept (best) model on the test split
	Val    evaluate.Metrics // the kept model on the validation split
	State  State
}

// Run trains per the schedule, evaluating and checkpointing as it goes. All
// tensor work happens on one locked OS thread. Nothing is written into the
// run directory until the config, the data and the weights or checkpoint
// it starts from have all been read (trainer.startRunDir).
func Run(ctx context.Context, o Options) (*Result, error) {
	c := o.Config
	if err := c.Validate(); err != nil {
		return nil, err
	}
	devName := c.Runtime.Device
	if o.Launch != nil {
		devName = o.Launch.Device(devName)
	}
	dev, err := torch.ParseDevice(devName)
	if err != nil {
		return nil, fmt.Errorf("runtime.device: %v", err)
	}
	dp, err := joinGroup(o.Launch, c, dev)
	if err != nil {
		return nil, err
	}
	defer dp.close()
	res, err := run(ctx, o, dev, dp)
	dp.fail(err)
	return res, err
}

func run(ctx context.Context, o Options, dev torch.Device, dp *dataParallel) (*Result, error) {
	c := o.Config
	var err error
	if o.Restart && o.From == "" && !o.Resume {
		if _, err := checkpoint.FindNewest(o.RunDir); err == nil {
			o.Resume = true
		}
	}
	// Only rank 0 writes the run directory (and prints); the other ranks
	// keep no log file and never take the lock.
	out := o.Out
	if !dp.isWriter() {
		out = nil
	}
	tr := &trainer{c: c, o: o, dev: dev, rl: newRunLog(out), ckDir: checkpoint.Dir(o.RunDir), gate: newRankGate(c.Train.RankKeepP), dp: dp}
	defer func() { tr.lock.Release() }() // startRunDir may take it later
	// An existing run directory is locked before it is read, so a second
	// writer is refused at once; a new one is locked when it is created.
	if st, err := os.Stat(o.RunDir); err == nil && st.IsDir() && dp.isWriter() {
		if tr.lock, err = runlock.Acquire(o.RunDir); err != nil {
			return nil, err
		}
	}
	switch {
	case o.Resume && o.From != "":
		return nil, fmt.Errorf("--resume continues a run and --from starts one: give one of them")
	case o.Resume:
		newest, err := checkpoint.FindNewest(o.RunDir, func(in checkpoint.Info) error {
			_, err := decodeState(in.Path, in.State, in.Config)
			return err
		})
		if err != nil {
			if !holdsRun(o.RunDir) {
				return nil, fmt.Errorf("run %s has no checkpoint yet: start it again with the command that started it (a run directory without a checkpoint is reused)", o.RunDir)
			}
			return nil, err
		}
		if err := checkResume(newest.Path, newest.Config, c); err != nil {
			return nil, err
		}
		tr.resumeFrom, tr.skipped = newest.Path, newest.Skipped
	case o.From != "":
		in, fork, err := readCheckpointInfo(o.From)
		if err != nil {
			return nil, err
		}
		if err := CheckFork(o.From, fork, in.Config, in.HasOptim, c); err != nil {
			return nil, err
		}
		tr.resumeFrom, tr.fork, tr.forkConfig = o.From, fork, in.Config
		fallthrough
	default:
		if dp.isWriter() && !o.Restart && holdsRun(o.RunDir) {
			return nil, fmt.Errorf("run directory %s already holds a run: resume it with --resume %s, or choose another --out", o.RunDir, o.RunDir)
		}
	}

	if tr.splits, err = rundata.Open(c); err != nil {
		return nil, err
	}
	tr.bad = rundata.NewBadImages(c, tr.rl.say)
	if err := checkSplitFiles(c, tr.splits, tr.bad); err != nil {
		return nil, err
	}
	rank, world := dp.rank(), dp.world()
	if tr.train, err = rundata.NewShardLoader(c, tr.splits.Train, true, tr.bad, rank, world); err != nil {
		return nil, err
	}
	if tr.splits.Val != nil && len(tr.splits.Val.Items) > 0 {
		if tr.val, err = rundata.NewShardLoader(c, tr.splits.Val, false, tr.bad, rank, world); err != nil {
			return nil, err
		}
	}
	if tr.test, err = rundata.NewShardLoader(c, tr.splits.Test, false, tr.bad, rank, world); err != nil {
		return nil, err
	}
	if tr.train.NumBatches() == 0 {
		if world > 1 {
			return nil, fmt.Errorf("data: %d training images make no full global batch of data.batch_size %d x %d ranks", len(tr.splits.Train.Items), c.Data.BatchSize, world)
		}
		return nil, fmt.Errorf("data: %d training images make no full batch of data.batch_size %d", len(tr.splits.Train.Items), c.Data.BatchSize)
	}
	if dp != nil {
		tr.rl.say("data parallel: %s, %s, %d intra-op thread(s) per rank; global batch %d (data.batch_size %d x %d ranks), optim.lr_scaling %s",
			dp, dev, max(c.Runtime.Threads, 0), c.Data.BatchSize*world, c.Data.BatchSize, world, c.Optim.LRScaling)
	}
	var res *Result
	err = torch.OnThread(c.Runtime.Threads, func() error {
		torch.ManualSeed(c.Train.Seed)
		var err error
		res, err = tr.run(ctx)
		return err
	})
	if n := tr.bad.Count(); n > 0 {
		tr.rl.say("skipped %d unreadable image(s) (data.on_bad_image: skip)", n)
	}
	if cerr := tr.rl.close(); cerr != nil && err == nil {
		return nil, fmt.Errorf("run log: %v", cerr)
	}
	return res, err
}

// startRun writes the run directory once everything it needs is open
// (rank 0's job, startRunDir), or returns ErrInterrupted when a stop came
// on any rank while the run was still reading what it needs (nothing is
// written); the other ranks wait until the directory is ready, or learn
// why it is not.
func (t *trainer) startRun() error {
	if t.dp.anyRank(t.stopRequested()) {
		t.rl.say("interrupted before the run began; nothing was written")
		return ErrInterrupted
	}
	if t.dp.isWriter() {
		if err := t.startRunDir(); err != nil {
			return err
		}
	}
	return t.dp.barrier()
}

// startRunDir writes the run directory: the lock, config.yaml, and the log
// (fresh, a fork's copy of its source's, or a resumed run's cut back to its
// checkpoint); it removes the temporaries a killed write left.
func (t *trainer) startRunDir() error {
	if t.lock == nil {
		var err error
		if t.lock, err = lockRunDir(t.o.RunDir); err != nil {
			return err
		}
		if !t.o.Resume && !t.o.Restart && holdsRun(t.o.RunDir) {
			return fmt.Errorf("run directory %s already holds a run: resume it with --resume %s, or choose another --out", t.o.RunDir, t.o.RunDir)
		}
	}
	if err := os.MkdirAll(t.ckDir, 0o755); err != nil {
		return fmt.Errorf("run directory: %v", err)
	}
	for _, dir := range []string{t.o.RunDir, t.ckDir} {
		removed, err := atomicfile.RemoveTemporaries(dir)
		if err != nil {
			return fmt.Errorf("run directory: %v", err)
		}
		for _, p := range removed {
			t.rl.say("removed %s, left by a write that was cut short", p)
		}
	}
	if err := t.c.WriteFile(filepath.Join(t.o.RunDir, "config.yaml")); err != nil {
		return fmt.Errorf("run directory: %v", err)
	}
	logPath := filepath.Join(t.o.RunDir, "log.jsonl")
	switch {
	case t.o.From != "":
		if err := forkLog(t.o.From, t.fork, t.forkConfig, t.o.RunDir); err != nil {
			return fmt.Errorf("run directory: %v", err)
		}
	case t.o.Resume:
		if err := rollBackLog(logPath, t.st); err != nil {
			return fmt.Errorf("run directory: %v", err)
		}
	}
	if err := t.rl.open(logPath, t.o.From == "" && !t.o.Resume); err != nil {
		return fmt.Errorf("run directory: %v", err)
	}
	return nil
}

type trainer struct {
	c                config.Config
	o                Options
	dev              torch.Device
	rl               *runLog
	splits           *rundata.Splits
	bad              *data.BadImages
	train, val, test *loader.Loader
	m                *model.RACNN
	ckDir            string
	lock             *runlock.Lock
	resumeFrom       string               // the checkpoint a resumed or forked run starts from
	skipped          []checkpoint.Skipped // newer checkpoints a resumed run passed over
	fork             State                // a forked run's checkpoint position
	forkConfig       config.Config        // and its config
	st               State
	lastCheckpoint   string
	gate             *rankGate
	dp               *dataParallel // nil: a single process
	// scaler is the loss scaler (runtime.loss_scale), nil without one.
	scaler *torch.GradScaler
}

func (t *trainer) run(ctx context.Context) (*Result, error) {
	var err error
	t.m, err = model.NewFromConfig(t.c, len(t.splits.Classes), t.dev)
	if err != nil {
		return nil, err
	}
	defer t.m.Free()
	t.st = State{Best: -1}
	if t.c.Runtime.UsesLossScale() {
		t.scaler = torch.NewGradScaler()
		t.scaler.Scale, t.scaler.GrowthInterval = float32(t.c.Runtime.LossScaleInit), t.c.Runtime.LossScaleInterval
	}
	var resumeOptim map[string]*torch.Tensor
	if resumeFrom := t.resumeFrom; resumeFrom != "" {
		ck, st, err := LoadCheckpoint(resumeFrom)
		if err != nil {
			return nil, err
		}
		defer ck.Free() // what no phase took over, on every way out
		if err := t.m.Store.Load(ck.Model, true); err != nil {
			return nil, fmt.Errorf("checkpoint %s does not fit this model: %v", resumeFrom, err)
		}
		// Copied into the model: the run need not hold a second copy of it.
		for _, v := range ck.Model {
			v.Release()
		}
		t.st = st
		// (A position another number of ranks wrote counts other batches:
		// resumeWorld moves it to its epoch's end.)
		if spe := t.stepsPerEpoch(); t.st.Batch > spe && max(t.st.World, 1) == t.dp.world() {
			return nil, fmt.Errorf("checkpoint %s: batch %d is past this run's %d steps an epoch (was the data changed?)", resumeFrom, t.st.Batch, spe)
		}
		if t.scaler != nil && st.LossScale > 0 {
			t.scaler.Scale, t.scaler.GrowthTracker = st.LossScale, st.LossScaleGrowth
		}
		if resumeOptim, err = t.gate.restore(ck); err != nil {
			return nil, err
		}
		if err := t.startRun(); err != nil {
			return nil, err
		}
		for _, s := range t.skipped {
			t.rl.say("warning: checkpoint %s cannot be read (%v); resuming from the one before it", s.Path, s.Err)
		}
		if t.o.From != "" {
			if err := t.startFork(); err != nil {
				return nil, err
			}
		} else {
			t.lastCheckpoint = resumeFrom
			t.rl.say("resuming %s at phase %d, epoch %d, batch %d (step %d)", resumeFrom, t.st.Phase, t.st.Epoch, t.st.Batch, t.st.Step)
			t.rl.record("resume", map[string]any{"checkpoint": resumeFrom, "step": t.st.Step})
		}
	} else {
		if t.c.Model.Pretrained != "" {
			if err := t.m.ImportTorchvision(t.c.Model.Pretrained); err != nil {
				return nil, err
			}
		}
		if err := t.startRun(); err != nil {
			return nil, err
		}
		if t.c.Model.Pretrained != "" {
			t.rl.say("loaded ImageNet weights %s into every scale", t.c.Model.Pretrained)
		}
	}
	if err := t.dp.broadcastParams(t.m); err != nil {
		return nil, err
	}
	sched := Schedule(t.c)
	t.resumeWorld(sched)
	for ; t.st.Phase < len(sched); t.st.Phase, t.st.Epoch, t.st.Batch = t.st.Phase+1, 0, 0 {
		if err := t.runPhase(ctx, sched[t.st.Phase], resumeOptim); err != nil {
			return nil, err
		}
		resumeOptim = nil
	}
	t.st.Done = true
	if err := t.saveAt(t.st, nil); err != nil {
		return nil, err
	}
	return t.finish(ctx)
}

func (t *trainer) stopRequested() bool {
	select {
	case <-t.o.Stop:
		return true
	default:
		return false
	}
}

func (t *trainer) stepsPerEpoch() int {
	n := t.train.NumBatches()
	if m := t.c.Train.MaxStepsPerEpoch; m > 0 && m < n {
		return m
	}
	return n
}

// runPhase runs the phase ph from the current position: its start hooks
// (when it starts afresh), its epochs, and at each epoch's end validation,
// the ranking gate's decision and checkpoints (endEpoch).
func (t *trainer) runPhase(ctx context.Context, ph Phase, resumeOptim map[string]*torch.Tensor) error {
	po, err := t.newPhaseOptimizer(ph, resumeOptim)
	if err != nil {
		return err
	}
	po.scaler = t.scaler
	defer po.opt.Free()
	defer t.gate.drop() // a ranking phase's snapshot ends with the phase
	if t.st.Epoch == 0 && t.st.Batch == 0 {
		if err := t.startPhase(ph, po); err != nil {
			return err
		}
	}
	fo, ls := forwardOptions(ph, po.trained, t.m.Groups.Scales), lossSettingsOf(t.c)
	var cache *fusionCache
	if ph.Kind == PhaseFusion && t.c.Train.FusionCache && t.st.Epoch < ph.Epochs {
		if cache, err = t.buildFusionCache(ctx, ph, po, po.perEpoch, fo); err != nil {
			return err
		}
		defer cache.free()
	}
	for ; t.st.Epoch < ph.Epochs; t.st.Epoch, t.st.Batch = t.st.Epoch+1, 0 {
		if cache != nil {
			err = t.runFusionEpoch(ctx, ph, po, po.perEpoch, cache, ls)
		} else {
			err = t.runEpoch(ctx, ph, po, po.perEpoch, fo, ls)
		}
		if err != nil {
			return err
		}
		if err := t.endEpoch(ctx, ph, po); err != nil {
			return err
		}
	}
	return nil
}

// newPhaseOptimizer makes trainable what ph trains and builds its optimiser,
// with the optimiser state of the checkpoint the run resumes from, if any.
func (t *trainer) newPhaseOptimizer(ph Phase, resumeOptim map[string]*torch.Tensor) (*phaseOptimizer, error) {
	oc := t.dp.scaleLR(t.c, t.optimizerConfig(ph))
	trained := t.trainedGroups(ph)
	t.m.Store.SetTrainable(trained...)
	po := newPhaseOptimizer(t.m, trained, oc, t.stepsPerEpoch(), ph.Epochs)
	po.dp = t.dp
	if len(resumeOptim) > 0 {
		if err := po.opt.LoadState(resumeOptim); err != nil {
			po.opt.Free()
			return nil, fmt.Errorf("resume: %v", err)
		}
		for _, v := range resumeOptim { // copied into the optimiser's own state
			v.Release()
		}
	}
	return po, nil
}

// optimizerConfig is the optim section of ph's kind.
func (t *trainer) optimizerConfig(ph Phase) config.Optimizer {
	return map[PhaseKind]config.Optimizer{PhaseScale: t.c.Optim.Scale, PhaseCls: t.c.Optim.Cls,
		PhasePretrain: t.c.Optim.APN, PhaseRank: t.c.Optim.Rank, PhaseFusion: t.c.Optim.Fusion}[ph.Kind]
}

// startPhase runs the hooks of a phase that starts afresh: the fine-tuned
// scale 1 copied into the finer scales after phase (a), the phase's log
// lines, and the ranking gate's snapshot at a ranking phase's start.
func (t *trainer) startPhase(ph Phase, po *phaseOptimizer) error {
	if sched := Schedule(t.c); t.c.Train.ScalePhase == "scale1" && len(t.m.Scales) > 1 &&
		t.st.Phase > 0 && sched[t.st.Phase-1].Kind == PhaseScale {
		if err := t.m.CopyScale1(); err != nil {
			return err
		}
		t.rl.say("copied the fine-tuned scale-1 network into scales 2-%d", len(t.m.Scales))
	}
	oc := po.cfg
	t.rl.say("phase %s: %d epoch(s) of %d steps, %s lr %g", ph, ph.Epochs, po.perEpoch, oc.Name, oc.LR)
	t.rl.record("phase", map[string]any{"phase": ph.String(), "phase_kind": string(ph.Kind), "epochs": ph.Epochs, "step": t.st.Step})
	t.gate.drop()
	if ph.Kind == PhaseRank && t.c.Train.RankRollback && t.val != nil {
		return t.gate.begin(t.m)
	}
	return nil
}

// endEpoch validates when due and keeps the model if it is the best so far,
// except at the end of a ranking phase the gate rolls back (that model is
// gone); then it writes the checkpoint of the position after the epoch and,
// with train.keep_phase_ends, keeps the phase's last one.
func (t *trainer) endEpoch(ctx context.Context, ph Phase, po *phaseOptimizer) error {
	last := t.st.Epoch+1 == ph.Epochs
	if t.val != nil && (last || t.validatesAfter(ph, t.st.Epoch+1)) {
		mt, err := t.validate(ctx, ph)
		if errors.Is(err, errStopped) {
			// Saved as trained and not yet validated: a resume validates.
			return t.interrupt(po)
		}
		if err != nil {
			return err
		}
		keep := true
		if last && t.gate.active() {
			if keep, err = t.endRankPhase(ph); err != nil {
				return err
			}
		}
		if keep {
			if err := t.keepIfBest(mt); err != nil {
				return err
			}
		}
	}
	next := t.st
	next.Epoch, next.Batch = t.st.Epoch+1, 0
	if err := t.saveAt(next, po.opt); err != nil {
		return err
	}
	if last && t.c.Train.KeepPhaseEnds && t.dp.isWriter() {
		return t.keepPhaseEnd(ph)
	}
	return nil
}

// validatesAfter reports whether epoch e (1-based) of ph, not its last, is
// validated: every train.eval_every epochs, except in the fusion phase,
// which is validated at its end only. Its epochs fit linear layers to fixed
// inputs under a decaying learning rate, and picking among the unfinished
// fits by validation accuracy picks noise.
func (t *trainer) validatesAfter(ph Phase, e int) bool {
	ee := t.c.Train.EvalEvery
	return ph.Kind != PhaseFusion && ee > 0 && e%ee == 0
}

// trainedGroups are the parameter groups a phase trains: the APNs in
// pre-training and ranking; otherwise the classification networks (the
// paper's alternation), restricted to scale 1 in phase (a) with
// train.scale_phase scale1, without scale 1 in phase (c) with
// train.freeze_scale1, and only the fusion classifiers in phase (d).
func (t *trainer) trainedGroups(ph Phase) []*nn.Group {
	g := t.m.Groups
	scale1 := []*nn.Group{g.Scales[0].Backbone, g.Scales[0].Classifier}
	switch {
	case ph.TrainsAPN():
		return g.APNs()
	case ph.Kind == PhaseFusion:
		return g.Fusions()
	case ph.Kind == PhaseScale && t.c.Train.ScalePhase == "scale1":
		return scale1
	case ph.Kind == PhaseCls && t.c.Train.FreezeScale1 && len(g.Scales) > 1:
		return slices.DeleteFunc(g.Classification(), func(x *nn.Group) bool { return slices.Contains(scale1, x) })
	}
	return g.Classification()
}

func (t *trainer) runEpoch(ctx context.Context, ph Phase, po *phaseOptimizer, spe int, fo model.ForwardOptions, ls lossSettings) error {
	if t.st.Batch >= spe { // resumed after the epoch's training, before its validation
		return nil
	}
	// The loader gets its own context: a stop request must let the current
	// step finish and the checkpoint be written, not cut the epoch short.
	lctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ep := t.train.Epoch(lctx, DataEpoch(Schedule(t.c), t.st.Phase, t.st.Epoch))
	defer ep.Close()
	start, imgs := time.Now(), 0
	skip := t.st.Batch
	bar := newEpochProgress(t.o.Out, t.o.Terminal, fmt.Sprintf("%s epoch %d/%d", ph, t.st.Epoch+1, ph.Epochs), spe-skip)
	defer bar.close()
	for r := range ep.Batches() {
		if r.Err != nil {
			return t.badImageError(r.Err)
		}
		b := r.Batch
		if skip > 0 { // resuming inside this epoch: these batches were trained on
			skip--
			b.Release()
			continue
		}
		if t.st.Batch >= spe {
			b.Release()
			break
		}
		if t.dp.anyRank(ctx.Err() != nil || t.stopRequested()) {
			b.Release()
			return t.interrupt(po)
		}
		lr := po.setStep(t.st.Epoch*spe + t.st.Batch)
		st, err := trainStep(t.m, po, b, ph, fo, ls, t.st.Step)
		n := b.N
		b.Release()
		if err != nil {
			return t.stepFailed(ph, err)
		}
		imgs += n
		t.stepped(ph, st, lr, spe, float64(imgs)/time.Since(start).Seconds(), bar)
	}
	if err := ep.Err(); err != nil {
		return err
	}
	return nil
}

// stepFailed is the run's error for a failed step: a NaN or infinite loss
// names the optimiser section to change and the checkpoint that is intact.
func (t *trainer) stepFailed(ph Phase, err error) error {
	var nf *errNonFinite
	if !errors.As(err, &nf) {
		return err
	}
	where := "no checkpoint was written yet"
	if t.lastCheckpoint != "" {
		where = "the last good checkpoint " + t.lastCheckpoint + " is intact"
	}
	return fmt.Errorf("%v; %s; lower optim.%s.lr or check the data", err, where, map[PhaseKind]string{PhaseScale: "scale", PhaseCls: "cls", PhasePretrain: "apn", PhaseRank: "rank", PhaseFusion: "fusion"}[ph.Kind])
}

// stepped advances the position past a finished step, moves the progress
// bar and writes the periodic log line (rate: images per second so far in
// this epoch).
func (t *trainer) stepped(ph Phase, st stepStats, lr float64, spe int, rate float64, bar *epochProgress) {
	t.st.Batch++
	t.st.Step++
	if st.Skipped {
		t.st.SkippedSteps++
		t.rl.record("skip", map[string]any{"phase": ph.String(), "step": t.st.Step, "loss": jsonNumber(st.Loss), "loss_scale": t.scaler.Scale})
	}
	bar.step(fmt.Sprintf("%s epoch %d/%d loss %.4f", ph, t.st.Epoch+1, ph.Epochs, st.Loss))
	if t.st.Batch%t.c.Train.LogEvery == 0 || t.st.Batch == spe {
		t.logStep(ph, st, lr, spe, rate, !bar.active() || t.st.Batch == spe)
	}
}

func (t *trainer) logStep(ph Phase, st stepStats, lr float64, spe int, rate float64, show bool) {
	rec := map[string]any{"phase": ph.String(), "phase_kind": string(ph.Kind), "epoch": t.st.Epoch, "batch": t.st.Batch,
		"step": t.st.Step, "loss": jsonNumber(st.Loss), "terms": st.Parts, "lr": lr, "img_per_s": rate}
	boxes := ""
	if len(st.HalfMean) > 0 {
		rec["box_half_mean"], rec["box_half_min"], rec["box_half_max"] = st.HalfMean, st.HalfMin, st.HalfMax
		for k := range st.HalfMean {
			boxes += fmt.Sprintf(" box%d half %.3f [%.3f, %.3f]", k+2, st.HalfMean[k], st.HalfMin[k], st.HalfMax[k])
		}
	}
	scale := ""
	if t.scaler != nil {
		rec["loss_scale"], rec["skipped_steps"] = t.scaler.Scale, t.st.SkippedSteps
		scale = fmt.Sprintf("  loss scale %g", t.scaler.Scale)
	}
	t.rl.record("step", rec)
	if !show {
		return
	}
	left := float64((ph.Epochs-t.st.Epoch-1)*spe+(spe-t.st.Batch)) * float64(t.c.Data.BatchSize) / math.Max(rate, 1e-9)
	t.rl.say("%-8s epoch %d batch %d/%d  loss %.4f  lr %.3g%s%s  %.1f img/s  phase ETA %s",
		ph, t.st.Epoch+1, t.st.Batch, spe, st.Loss, lr, boxes, scale, rate, (time.Duration(left) * time.Second).Round(time.Second))
}

// endRankPhase asks the ranking gate whether the phase ph is kept (it
// restores the APNs when not) and logs its decision. The fused accuracy is
// not the test: it can stay put while a ranking phase moves the zoomed
// scales' boxes off the object. The paper alternates "until both losses
// stop improving", and a ranking phase that moves the boxes off the object
// must not be the one the next classification phase trains on.
func (t *trainer) endRankPhase(ph Phase) (kept bool, err error) {
	d, err := t.gate.decide(t.m)
	if err != nil {
		return false, err
	}
	rec := map[string]any{"phase": ph.String(), "step": t.st.Step, "start": d.StartAcc, "end": d.EndAcc}
	how := fmt.Sprintf("validation accuracy of the zoomed scales %.2f %% -> %.2f %%", 100*d.StartAcc, 100*d.EndAcc)
	if d.SignTest {
		rec["mended"], rec["broken"], rec["p"] = d.Mended, d.Broken, d.P
		how += fmt.Sprintf(", %d image(s) mended and %d broken (sign test p = %.3g; keeps at train.rank_keep_p %g)", d.Mended, d.Broken, d.P, t.c.Train.RankKeepP)
	}
	rec["kept"] = d.Kept
	if d.Kept {
		t.rl.say("%s kept: %s", ph, how)
	} else {
		t.rl.say("%s rolled back: %s; the APNs are those it started with (train.rank_rollback)", ph, how)
	}
	t.rl.record("rank_end", rec)
	return d.Kept, nil
}

// errStopped is what an evaluation returns when a stop was requested.
var errStopped = errors.New("stopped")

// evaluate runs the model over l (this rank's shard, counts summed over the
// ranks), stopping within a batch when a stop is requested (SIGTERM must not
// wait for a whole validation pass; torchrun signals every rank, and a rank
// that stops alone ends the others with the group's error). An unreadable
// image says how to go on without it.
func (t *trainer) evaluate(ctx context.Context, l *loader.Loader) (evaluate.Metrics, error) {
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-t.o.Stop:
			cancel()
		case <-ectx.Done():
		}
	}()
	mt, err := t.dp.evaluate(ectx, t.m, l)
	if err != nil && ctx.Err() == nil && t.stopRequested() {
		return mt, errStopped
	}
	if err != nil {
		return mt, t.badImageError(err)
	}
	return mt, nil
}

// finalError is the run's error for a failed final evaluation: the
// checkpoint ending the schedule is written, so a resume only evaluates.
func (t *trainer) finalError(err error) error {
	if errors.Is(err, errStopped) {
		t.rl.say("interrupted in the final evaluation; the run's last checkpoint %s ends its schedule: racnn train --resume %s evaluates it", t.lastCheckpoint, t.o.RunDir)
		return ErrInterrupted
	}
	return fmt.Errorf("final evaluation: %w", err)
}

// validate evaluates the model on the validation split and logs it.
func (t *trainer) validate(ctx context.Context, ph Phase) (evaluate.Metrics, error) {
	mt, err := t.evaluate(ctx, t.val)
	if err != nil {
		if errors.Is(err, errStopped) {
			return evaluate.Metrics{}, err
		}
		return evaluate.Metrics{}, fmt.Errorf("validation: %w", err)
	}
	t.gate.observe(mt)
	rec := map[string]any{"phase": ph.String(), "phase_kind": string(ph.Kind), "epoch": t.st.Epoch + 1, "step": t.st.Step, "split": "val"}
	addMetrics(rec, mt)
	t.rl.record("eval", rec)
	t.rl.say("validation after %s epoch %d: %s", ph, t.st.Epoch+1, mt.Summary())
	return mt, nil
}

// keepIfBest makes the model, validated with mt at the end of the current
// epoch, the run's kept model if it beats the best so far.
func (t *trainer) keepIfBest(mt evaluate.Metrics) error {
	if mt.Best <= t.st.Best {
		return nil
	}
	t.st.Best, t.st.BestStep = mt.Best, t.st.Step
	best := t.st
	best.Epoch, best.Batch = t.st.Epoch+1, 0
	if !t.dp.isWriter() {
		return nil
	}
	if err := t.save(filepath.Join(t.o.RunDir, "best.safetensors"), nil, best); err != nil {
		return err
	}
	t.rl.say("new best %.2f %% (step %d): %s", 100*mt.Best, t.st.Step, filepath.Join(t.o.RunDir, "best.safetensors"))
	return nil
}

func addMetrics(rec map[string]any, mt evaluate.Metrics) {
	rec["n"], rec["scale_acc"], rec["fused_acc"], rec["scales12_acc"], rec["best_acc"], rec["loss"] =
		mt.N, mt.Scale, mt.Fused, mt.Scales12, mt.Best, mt.Loss
	if len(mt.MeanIoU) > 0 {
		rec["mean_iou"], rec["iou50"], rec["pointing"] = mt.MeanIoU, mt.IoU50, mt.Pointing
		rec["holds_object"], rec["errors_object_held"] = mt.Holds, mt.ErrorsHeld
	}
}

func (t *trainer) modelTensors() map[string]*torch.Tensor {
	m := map[string]*torch.Tensor{}
	for _, e := range t.m.Store.Entries() {
		m[e.Name] = e.T
	}
	return m
}

// saveAt writes a checkpoint at position st with opt's state (opt may be
// nil). The state's new tensors (step counts) live in a scope of their own.
func (t *trainer) saveAt(st State, opt torch.Optimizer) error {
	path := filepath.Join(t.ckDir, checkpoint.StepName(st.Step))
	if t.scaler != nil {
		st.LossScale, st.LossScaleGrowth = t.scaler.Scale, t.scaler.GrowthTracker
	}
	if !t.dp.isWriter() {
		t.lastCheckpoint = path
		return nil
	}
	st.World = t.dp.world()
	if st.World == 1 {
		st.World = 0
	}
	if err := t.rl.failed(); err != nil {
		where := "no checkpoint was written yet"
		if t.lastCheckpoint != "" {
			where = "the last checkpoint " + t.lastCheckpoint + " is intact"
		}
		return fmt.Errorf("run log: %v; %s", err, where)
	}
	st.LogBytes = t.rl.bytes()
	var err error
	torch.WithScope(func() {
		var optim map[string]*torch.Tensor
		if opt != nil {
			optim = opt.State()
		}
		err = t.save(path, optim, st)
	})
	if err != nil {
		return err
	}
	t.lastCheckpoint = path
	return checkpoint.Prune(t.ckDir, max(1, t.c.Train.KeepLast))
}

// save writes a checkpoint of the model, optim (nil: none), the position st
// and the ranking gate to path.
func (t *trainer) save(path string, optim map[string]*torch.Tensor, st State) error {
	doc, _ := json.Marshal(st)
	return checkpoint.Save(path, &checkpoint.Checkpoint{State: doc, Config: t.c, Classes: t.splits.Classes,
		Model: t.modelTensors(), Optim: optim, Sections: map[string]checkpoint.Section{rankGateSection: t.gate.section()}})
}

// resumeWorld moves a position inside an epoch that another number of
// ranks wrote to that epoch's end: a batch position counts global batches
// of another size there, and only epoch boundaries mean the same under any
// world size. The epoch's end then runs as if its training had finished
// (runEpoch trains nothing at Batch >= steps per epoch): its validation
// when due, the ranking gate's decision at a ranking phase's end and the
// checkpoint of the next epoch's start, so no phase ends without them.
func (t *trainer) resumeWorld(sched []Phase) {
	was, now := max(t.st.World, 1), t.dp.world()
	if was == now || t.st.Batch == 0 || t.st.Phase >= len(sched) {
		return
	}
	ranks := func(n int) string {
		if n == 1 {
			return "1 process"
		}
		return fmt.Sprintf("%d ranks", n)
	}
	ph := sched[t.st.Phase]
	t.rl.say("resume: this checkpoint was written by %s and this run has %s, so the global batch differs and a position inside an epoch cannot be carried over: the run continues from the end of phase %s's epoch %d (its batches after %d are not trained)",
		ranks(was), ranks(now), ph, t.st.Epoch+1, t.st.Batch)
	t.rl.record("resume_world", map[string]any{"written_by": was, "world": now, "phase": ph.String(), "epoch": t.st.Epoch + 1, "batch": t.st.Batch, "step": t.st.Step})
	t.st.Batch = t.stepsPerEpoch()
}

func (t *trainer) interrupt(po *phaseOptimizer) error {
	// Logged before the save, so that a resume, which cuts the log back to
	// its checkpoint, keeps it.
	t.rl.record("interrupt", map[string]any{"step": t.st.Step, "checkpoint": filepath.Join(t.ckDir, checkpoint.StepName(t.st.Step))})
	if err := t.saveAt(t.st, po.opt); err != nil {
		return fmt.Errorf("interrupted, and saving failed: %w", err)
	}
	t.rl.say("interrupted at step %d: saved %s; continue with: racnn train --resume %s", t.st.Step, t.lastCheckpoint, t.o.RunDir)
	return ErrInterrupted
}

// finish evaluates the kept model on validation and test data and writes
// the run's summary and curves.
func (t *trainer) finish(ctx context.Context) (*Result, error) {
	res := &Result{RunDir: t.o.RunDir, State: t.st}
	bestPath := filepath.Join(t.o.RunDir, "best.safetensors")
	if _, err := os.Stat(bestPath); err == nil && t.dp.isWriter() {
		ck, _, err := LoadCheckpoint(bestPath)
		if err != nil {
			return nil, err
		}
		err = t.m.Store.Load(ck.Model, true)
		ck.Free()
		if err != nil {
			return nil, err
		}
	}
	if err := t.dp.broadcastParams(t.m); err != nil { // the kept model is rank 0's
		return nil, err
	}
	var err error
	if t.val != nil {
		if res.Val, err = t.evaluate(ctx, t.val); err != nil {
			return nil, t.finalError(err)
		}
	}
	if res.Test, err = t.evaluate(ctx, t.test); err != nil {
		return nil, t.finalError(err)
	}
	rec := map[string]any{"step": t.st.Step, "split": "test", "kept_step": t.st.BestStep}
	addMetrics(rec, res.Test)
	t.rl.record("final", rec)
	if !t.dp.isWriter() {
		return res, nil
	}
	if err := atomicfile.WriteBytes(filepath.Join(t.o.RunDir, "test_metrics.json"), append(res.Test.JSON(), '\n')); err != nil {
		return nil, err
	}
	if err := WriteCurves(t.o.RunDir); err != nil {
		t.rl.say("warning: curves: %v", err)
	}
	return res, nil
}

// jsonNumber is v, or its name for an infinity or NaN (JSON has no such numbers).
func jsonNumber(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprint(v)
	}
	return v
}
