package train

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/checkpoint"
	"github.com/racnn/racnn/internal/config"
	"github.com/racnn/racnn/internal/data/loader"
	"github.com/racnn/racnn/internal/evaluate"
	"github.com/racnn/racnn/internal/model"
	"github.com/racnn/racnn/internal/torch"
)

// Each phase trains what the schedule says, and runs the backbones it does
// not train with their running statistics.
func TestPhasesTrainWhatTheyShould(t *testing.T) {
	mc := tinyModelConfig()
	m := newTinyModel(t, mc)
	c := config.Default()
	tr := &trainer{c: c, m: m}
	scale := Phase{Kind: PhaseScale, Epochs: 1}
	pre := Phase{Kind: PhasePretrain, Epochs: 1}
	cls := Phase{Kind: PhaseCls, Round: 1, Epochs: 1}
	rank := Phase{Kind: PhaseRank, Round: 1, Epochs: 1}
	fusion := Phase{Kind: PhaseFusion, Epochs: 1}
	join := func(ph Phase) string { // each group as the start of its entries' names
		var names []string
		for _, g := range tr.trainedGroups(ph) {
			names = append(names, g.Name+".")
		}
		return strings.Join(names, " ")
	}

	if got := join(scale); got != "scale1.features. scale1.classifier." {
		t.Errorf("phase (a), scale_phase scale1, trains %q", got)
	}
	for _, ph := range []Phase{pre, rank} {
		if got := join(ph); got != "scale1.apn. scale2.apn." {
			t.Errorf("%s trains %q", ph, got)
		}
	}
	if got := join(fusion); got != "fusion. fusion12." {
		t.Errorf("fusion phase trains %q", got)
	}
	all := join(cls)
	if !strings.Contains(all, "scale1.features.") || !strings.Contains(all, "scale3.classifier.") || !strings.Contains(all, "fusion.") {
		t.Errorf("classification phase trains %q", all)
	}
	tr.c.Train.ScalePhase = "all"
	if got := join(scale); got != all {
		t.Errorf("phase (a), scale_phase all, trains %q, want %q", got, all)
	}
	tr.c.Train.FreezeScale1 = true
	if got := join(cls); strings.Contains(got, "scale1.") || !strings.Contains(got, "scale2.features.") {
		t.Errorf("classification phase with freeze_scale1 trains %q", got)
	}

	tr.c.Train.ScalePhase = "scale1" // with freeze_scale1, still set
	for _, tc := range []struct {
		ph     Phase
		scales int
		frozen []bool
		detach bool
		all    bool
	}{
		{scale, 1, nil, false, false},
		{pre, 2, []bool{true, true}, true, true},
		{rank, 0, []bool{true, true, true}, false, false},
		{cls, 0, []bool{true}, false, false},
		{fusion, 0, []bool{true, true, true}, true, false},
	} {
		o := forwardOptions(tc.ph, tr.trainedGroups(tc.ph), tr.m.Groups.Scales)
		if o.Scales != tc.scales || !slices.Equal(o.Frozen, tc.frozen) || o.DetachBoxes != tc.detach || o.AllBoxes != tc.all {
			t.Errorf("%s: forward options %+v", tc.ph, o)
		}
	}
	mc.Scales = 1
	tr.m = newTinyModel(t, mc)
	if o := forwardOptions(cls, tr.trainedGroups(cls), tr.m.Groups.Scales); o.Frozen != nil {
		t.Errorf("single-scale baseline with freeze_scale1: classification runs frozen: %+v", o)
	}
	if got := join(cls); !strings.Contains(got, "scale1.features.") {
		t.Errorf("single-scale baseline with freeze_scale1 trains %q", got)
	}
}

// Each phase makes trainable exactly the parameters of its groups, and its
// optimiser holds exactly those, in the store's order: the backbones'
// (names with ".features.") at lr, the rest at lr × head_lr_mult, as when
// parameters were chosen by name, so saved optimiser states keep their order.
func TestPhaseTrainsExactlyItsGroups(t *testing.T) {
	mc := tinyModelConfig()
	mc.Backbone = "small_bn" // buffers, which no optimiser may hold
	m3 := newTinyModel(t, mc)
	mc.Scales = 1
	m1 := newTinyModel(t, mc)
	scale := Phase{Kind: PhaseScale, Epochs: 1}
	cls := Phase{Kind: PhaseCls, Round: 1, Epochs: 1}
	three := []string{"scale1.features", "scale1.classifier", "scale2.features", "scale2.classifier", "scale3.features", "scale3.classifier", "fusion", "fusion12"}
	for _, tc := range []struct {
		m            *model.RACNN
		ph           Phase
		scalePhase   string
		freezeScale1 bool
		want         []string // the groups, by name
	}{
		{m3, scale, "scale1", false, []string{"scale1.features", "scale1.classifier"}},
		{m3, scale, "all", false, three},
		{m3, Phase{Kind: PhasePretrain, Epochs: 1}, "scale1", false, []string{"scale1.apn", "scale2.apn"}},
		{m3, cls, "scale1", false, three},
		{m3, cls, "scale1", true, three[2:]},
		{m3, Phase{Kind: PhaseRank, Round: 1, Epochs: 1}, "scale1", true, []string{"scale1.apn", "scale2.apn"}},
		{m3, Phase{Kind: PhaseFusion, Epochs: 1}, "scale1", false, []string{"fusion", "fusion12"}},
		{m1, scale, "scale1", false, []string{"scale1.features", "scale1.classifier"}},
		{m1, cls, "scale1", true, []string{"scale1.features", "scale1.classifier"}},
	} {
		c := config.Default()
		c.Train.ScalePhase, c.Train.FreezeScale1 = tc.scalePhase, tc.freezeScale1
		tr := &trainer{c: c, m: tc.m}
		name := fmt.Sprintf("%d scale(s), %s, scale_phase %s, freeze_scale1 %v", len(tc.m.Scales), tc.ph, tc.scalePhase, tc.freezeScale1)
		trained := tr.trainedGroups(tc.ph)
		var got []string
		for _, g := range trained {
			got = append(got, g.Name)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: trains groups %v, want %v", name, got, tc.want)
		}
		tc.m.Store.SetTrainable(trained...)
		po := newPhaseOptimizer(tc.m, trained, tr.optimizerConfig(tc.ph), 1, 1)
		var backbone, heads, all []*torch.Tensor
		for _, e := range tc.m.Store.Entries() {
			if e.Buffer {
				continue
			}
			in := slices.ContainsFunc(tc.want, func(g string) bool { return strings.HasPrefix(e.Name, g+".") })
			if e.T.RequiresGrad() != in {
				t.Errorf("%s: %s requires grad %v", name, e.Name, e.T.RequiresGrad())
			}
			if in {
				all = append(all, e.T)
			}
			switch {
			case in && strings.Contains(e.Name, ".features."):
				backbone = append(backbone, e.T)
			case in:
				heads = append(heads, e.T)
			}
		}
		og := po.opt.Groups()
		if len(og) != 2 || og[0].Name != "backbone" || !slices.Equal(og[0].Params, backbone) || og[1].Name != "heads" || !slices.Equal(og[1].Params, heads) {
			t.Errorf("%s: the optimiser's groups are not the phase's backbone (%d) and head (%d) parameters in the store's order", name, len(backbone), len(heads))
		}
		if !slices.Equal(po.params, all) {
			t.Errorf("%s: the optimiser updates %d parameters, not the phase's %d in the store's order", name, len(po.params), len(all))
		}
		po.opt.Free()
	}
}

// A fusion-phase step moves the fusion classifiers and nothing else: no
// backbone, classifier, APN weight or batch-norm statistic.
func TestFusionPhaseStepTrainsOnlyTheFusionHeads(t *testing.T) {
	mc := tinyModelConfig()
	mc.Backbone = "small_bn" // running statistics that a train-mode pass would move
	m := newTinyModel(t, mc)
	c := config.Default()
	tr := &trainer{c: c, m: m}
	ph := Phase{Kind: PhaseFusion, Epochs: 1}
	trained := tr.trainedGroups(ph)
	m.Store.SetTrainable(trained...)
	po := newPhaseOptimizer(m, trained, c.Optim.Fusion, 1, 1)
	defer po.opt.Free()
	before := map[string][]float64{}
	for _, n := range m.Store.Names() {
		before[n] = m.Store.Get(n).Float64s()
	}
	const n, side = 4, 16
	rng := rand.New(rand.NewSource(1))
	src := make([]float32, n*3*side*side)
	for i := range src {
		src[i] = rng.Float32()
	}
	b := &loader.Batch{N: n, SourceSize: side, InputSize: side, Source: src, Input: src, Labels: []int64{0, 1, 2, 0}}
	if _, err := trainStep(m, po, b, ph, forwardOptions(ph, trained, m.Groups.Scales), lossSettingsOf(c), 1); err != nil {
		t.Fatal(err)
	}
	moved := 0
	for _, name := range m.Store.Names() {
		changed := !slices.Equal(before[name], m.Store.Get(name).Float64s())
		fusion := strings.HasPrefix(name, "fusion")
		if changed && !fusion {
			t.Errorf("%s changed in a fusion step", name)
		}
		if changed && fusion {
			moved++
		}
	}
	if moved == 0 {
		t.Error("the fusion step moved no fusion parameter")
	}
}

// Fusion epochs on cached inputs (train.fusion_cache) fit the fusion
// classifiers and move nothing else, and the batches they draw depend only
// on the seed and the epoch, so a resumed run draws the same ones.
func TestCachedFusionEpochs(t *testing.T) {
	mc := tinyModelConfig()
	const n, classes = 96, 3
	c := config.Default()
	c.Data.BatchSize = 8
	c.Train.ScaleEpochs, c.Train.PretrainEpochs, c.Train.Alternations, c.Train.FusionEpochs = 0, 0, 0, 1
	ph := Phase{Kind: PhaseFusion, Epochs: 30}
	spe := n / c.Data.BatchSize
	// Inputs a linear layer can separate: each class lifts its own feature
	// block's first components.
	rng := rand.New(rand.NewSource(2))
	width := func(scales int) int64 { return int64(scales) * mc.FeatureChannels() }
	feats := func(scales int, labels []int64) []float32 {
		w := int(width(scales))
		x := make([]float32, n*w)
		for i := range n {
			for j := range w {
				x[i*w+j] = float32(rng.NormFloat64()) * 0.3
			}
			x[i*w+int(labels[i])] += 1
		}
		return x
	}
	labels := make([]int64, n)
	for i := range labels {
		labels[i] = int64(i % classes)
	}
	all, first2 := feats(3, labels), feats(2, labels)

	train := func() (*model.RACNN, map[string][]float64, *fusionCache) {
		torch.ManualSeed(3)
		m := newTinyModel(t, mc)
		rl, err := openRunLog(filepath.Join(t.TempDir(), "log.jsonl"), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		tr := &trainer{c: c, m: m, rl: rl}
		before := map[string][]float64{}
		for _, name := range m.Store.Names() {
			before[name] = m.Store.Get(name).Float64s()
		}
		cache := &fusionCache{n: n}
		torch.WithScope(func() {
			cache.all = torch.FromSlice(all, n, width(3)).Keep()
			cache.first2 = torch.FromSlice(first2, n, width(2)).Keep()
			cache.labels = torch.FromSlice(labels, n).Keep()
		})
		t.Cleanup(cache.free)
		trained := tr.trainedGroups(ph)
		m.Store.SetTrainable(trained...)
		po := newPhaseOptimizer(m, trained, c.Optim.Fusion, spe, ph.Epochs)
		defer po.opt.Free()
		for ; tr.st.Epoch < ph.Epochs; tr.st.Epoch, tr.st.Batch = tr.st.Epoch+1, 0 {
			if err := tr.runFusionEpoch(t.Context(), ph, po, spe, cache, lossSettingsOf(c)); err != nil {
				t.Fatal(err)
			}
			if tr.st.Batch != spe {
				t.Fatalf("epoch %d ran %d of %d steps", tr.st.Epoch, tr.st.Batch, spe)
			}
		}
		return m, before, cache
	}
	m, before, cache := train()
	for _, name := range m.Store.Names() {
		changed := !slices.Equal(before[name], m.Store.Get(name).Float64s())
		if fusion := strings.HasPrefix(name, "fusion"); changed != fusion {
			t.Errorf("%s: changed %v in the fusion phase", name, changed)
		}
	}
	torch.WithScope(func() {
		torch.NoGrad(func() {
			fused, fused12 := m.FusionForward(cache.all, cache.first2)
			for k, logits := range []*torch.Tensor{fused, fused12} {
				if acc := float64(evaluate.CountRight(logits, labels)) / n; acc < 0.95 {
					t.Errorf("fusion classifier %d: training accuracy %.3f on separable inputs after %d epochs", k, acc, ph.Epochs)
				}
			}
		})
	})
	again, _, _ := train()
	for _, name := range []string{"fusion.weight", "fusion12.bias"} {
		if !slices.Equal(m.Store.Get(name).Float64s(), again.Store.Get(name).Float64s()) {
			t.Errorf("%s differs between two runs from the same seed", name)
		}
	}
}

// A ranking phase is kept when, on validation, the images it mended
// outnumber those it broke beyond chance (train.rank_keep_p); otherwise the
// APNs go back to what the phase started with, and so does the record of
// the zoomed scales' validation results. A checkpoint without the per-image
// record falls back to comparing accuracies.
func TestRankRollback(t *testing.T) {
	m := newTinyModel(t, tinyModelConfig())
	rl, err := openRunLog(filepath.Join(t.TempDir(), "log.jsonl"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := config.Default()
	c.Train.RankKeepP = 0.05
	tr := &trainer{c: c, m: m, rl: rl, gate: newRankGate(c.Train.RankKeepP)}
	const name = "scale1.apn.fc2.bias"
	rank := Phase{Kind: PhaseRank, Round: 1, Epochs: 1}
	for _, tc := range []struct {
		before, after string // zoomed scales right per validation image
		start, end    float64
		restored      bool
	}{
		{"0000000000", "1111100000", 0.0, 0.25, false}, // 5 mended, 0 broken: p = 1/32
		{"0000000000", "1110000000", 0.0, 0.15, true},  // 3 mended: p = 1/8
		{"2222222000", "2211111222", 0.7, 0.75, true},  // 5 mended, 2 broken (what the demo's rank#2 did): p = 29/128
		{"2222222222", "1111122222", 1.0, 0.75, true},  // 0 mended, 5 broken
		{"", "0120", 0.8, 0.7, true},                   // old checkpoint: accuracy fell
		{"", "0120", 0.8, 0.8, false},                  // ... held
	} {
		before := m.Store.Get(name).Float64s()
		// The phase starts from the record tc.before (a start accuracy of 0
		// takes no snapshot, so the record is set after begin) ...
		tr.gate.latest = zoomRecord{Acc: 1, Right: digits(tc.before)}
		if err := tr.gate.begin(m); err != nil {
			t.Fatal(err)
		}
		tr.gate.start.record = zoomRecord{Acc: tc.start, Right: digits(tc.before)}
		torch.WithScope(func() {
			torch.NoGrad(func() { m.Store.Get(name).CopyFrom(m.Store.Get(name).AddScalar(1)) }) // what the phase did
		})
		// ... and ends at tc.after.
		tr.gate.latest = zoomRecord{Acc: tc.end, Right: digits(tc.after)}
		if _, err := tr.endRankPhase(rank); err != nil {
			t.Fatal(err)
		}
		after := m.Store.Get(name).Float64s()
		if restored := after[0] == before[0]; restored != tc.restored {
			t.Errorf("%q -> %q: restored %v (%v -> %v)", tc.before, tc.after, restored, before[0], after[0])
		}
		if tr.gate.active() {
			t.Error("the phase's start copies were not released")
		}
		wantAcc, wantRight := tc.end, tc.after
		if tc.restored {
			wantAcc, wantRight = tc.start, tc.before
		}
		if got := tr.gate.latest; got.Acc != wantAcc || !slices.Equal(got.Right, digits(wantRight)) {
			t.Errorf("%q -> %q: zoomed record %v %v after the phase, want %v %q", tc.before, tc.after, got.Acc, got.Right, wantAcc, wantRight)
		}
	}
	tr.gate.latest = zoomRecord{Acc: 1, Right: digits("012")}
	if err := tr.gate.begin(m); err != nil {
		t.Fatal(err)
	}
	tr.gate.latest = zoomRecord{Acc: 1, Right: digits("0122")}
	if _, err := tr.endRankPhase(rank); err == nil {
		t.Error("validation records of different lengths: no error")
	}
}

// The sign test's tail: exact values for small n, and P(X >= k) +
// P(X >= n-k+1) = 1 (symmetry at p = 1/2) for large n, where the terms
// come from Lgamma.
func TestBinomialTail(t *testing.T) {
	for _, tc := range []struct {
		n, k int
		want float64
	}{{7, 5, 29.0 / 128}, {5, 5, 1.0 / 32}, {3, 3, 1.0 / 8}, {0, 0, 1}, {4, 0, 1}, {4, 5, 0}, {22, 16, 110056.0 / 4194304}} {
		if got := binomialTail(tc.n, tc.k); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("P(X >= %d | n = %d) = %v, want %v", tc.k, tc.n, got, tc.want)
		}
	}
	for _, k := range []int{1, 300, 500, 501, 700, 1000} {
		if s := binomialTail(1000, k) + binomialTail(1000, 1001-k); math.Abs(s-1) > 1e-9 {
			t.Errorf("n = 1000, k = %d: tails sum to %v", k, s)
		}
	}
	if mended, broken, p, err := rankSignTest([]int{0, 1, 2, 1}, []int{1, 1, 2, 0}); err != nil || mended != 1 || broken != 1 || p != 0.75 {
		t.Errorf("rankSignTest: %d mended, %d broken, p %v, %v", mended, broken, p, err)
	}
	if got := zoomRight(evaluate.Metrics{Right: [][]bool{{true, false, true}, {true, false, false}, {true, true, false}}}); !slices.Equal(got, []int{2, 1, 0}) {
		t.Errorf("zoomRight = %v, want [2 1 0]", got)
	}
}

// tinyModelConfig is a 3-scale model small enough to build in a test.
func tinyModelConfig() model.Config {
	mc := model.Small()
	mc.SmallChannels = []int64{4, model.Pool, 8}
	mc.InputSize = [3]int64{16, 16, 16}
	mc.APNHidden = 8
	mc.NumClasses = 3
	return mc
}

func newTinyModel(t *testing.T, mc model.Config) *model.RACNN {
	t.Helper()
	m, err := model.New(mc, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Free)
	return m
}

// The pre-training loss is each APN's mean squared (or, with
// model.apn.pretrain_loss l1, absolute) distance to its target, the targets
// re-centred by the next scale with pretrain_refine; the pass runs scales 1-2
// only and yields both APNs' boxes.
func TestPretrainLoss(t *testing.T) {
	mc := tinyModelConfig()
	m := newTinyModel(t, mc)
	const n, side = 3, 16
	rng := rand.New(rand.NewSource(2))
	src := make([]float32, n*3*side*side)
	for i := range src {
		src[i] = rng.Float32()
	}
	ph := Phase{Kind: PhasePretrain, Epochs: 1}
	c := config.Default()
	fo := forwardOptions(ph, m.Groups.APNs(), m.Groups.Scales)
	for _, l1 := range []bool{false, true} {
		for _, refine := range []bool{false, true} {
			c.Model.APN.PretrainRefine = refine
			c.Model.APN.PretrainLoss = map[bool]string{false: "mse", true: "l1"}[l1]
			ls := lossSettingsOf(c)
			torch.WithScope(func() {
				s := torch.FromSlice(src, n, 3, side, side)
				out := m.ForwardWith(s, nil, true, fo)
				if len(out.RawBoxes) != 2 || len(out.Logits) != 2 {
					t.Fatalf("pre-training pass: %d boxes, %d scales", len(out.RawBoxes), len(out.Logits))
				}
				total, terms := phaseLoss(m, s, out, nil, ph, ls)
				targets := m.PretrainTargets(s, out, ls.Pretrain, refine)
				want := 0.0
				for k := range terms {
					b, tg := out.RawBoxes[k].Float64s(), targets[k].Float64s()
					sum := 0.0
					for i := range b {
						d := b[i] - tg[i]
						if l1 {
							sum += math.Abs(d)
						} else {
							sum += d * d
						}
					}
					if got := terms[k].Item(); math.Abs(got-sum/float64(len(b))) > 1e-6 {
						t.Fatalf("l1 %v refine %v: APN %d loss %v, want %v", l1, refine, k+1, got, sum/float64(len(b)))
					}
					want += sum / float64(len(b))
				}
				if math.Abs(total.Item()-want) > 1e-6 {
					t.Fatalf("l1 %v refine %v: total %v, want %v", l1, refine, total.Item(), want)
				}
			})
		}
	}
}

// The ranking gate's checkpoint section gives back its record, the
// snapshot's record and the snapshot's tensors; a checkpoint written before
// the gate had a section (State fields, "phase_start." optimiser tensors)
// gives the same gate and an optimiser state without the snapshot.
func TestRankGateRestore(t *testing.T) {
	m := newTinyModel(t, tinyModelConfig())
	const name = "scale1.apn.fc2.bias"
	g := newRankGate(0.05)
	g.latest = zoomRecord{Acc: 0.4, Right: []int{1, 1, 1}}
	if err := g.begin(m); err != nil {
		t.Fatal(err)
	}
	defer g.drop()
	g.latest = zoomRecord{Acc: 0.5, Right: []int{0, 1, 2}}
	want := g.start.apn[name].Float64s()
	check := func(what string, r *rankGate) {
		t.Helper()
		if !r.active() || r.start.record.Acc != 0.4 || !slices.Equal(r.start.record.Right, []int{1, 1, 1}) ||
			r.latest.Acc != 0.5 || !slices.Equal(r.latest.Right, []int{0, 1, 2}) {
			t.Fatalf("%s: restored latest %+v, start %+v", what, r.latest, r.start)
		}
		if len(r.start.apn) != len(g.start.apn) || !slices.Equal(r.start.apn[name].Float64s(), want) {
			t.Fatalf("%s: snapshot of %d tensors, %s %v, want %d, %v", what, len(r.start.apn), name, r.start.apn[name].Float64s(), len(g.start.apn), want)
		}
	}
	r := newRankGate(0.05)
	defer r.drop()
	optim := map[string]*torch.Tensor{}
	got, err := r.restore(&checkpoint.Checkpoint{State: json.RawMessage(`{"phase":3}`), Optim: optim,
		Sections: map[string]checkpoint.Section{rankGateSection: g.section()}})
	if err != nil {
		t.Fatal(err)
	}
	check("section", r)
	if len(got) != 0 {
		t.Errorf("optimiser state %v", got)
	}
	torch.WithScope(func() {
		old := map[string]*torch.Tensor{"0.step": torch.Ones([]int64{1})}
		for n, v := range g.start.apn {
			old["phase_start."+n] = v
		}
		l := newRankGate(0.05)
		defer l.drop()
		got, err := l.restore(&checkpoint.Checkpoint{Optim: old,
			State: json.RawMessage(`{"phase":3,"zoom_acc":0.5,"zoom_right":"012","rank_start":0.4,"rank_start_right":"111"}`)})
		if err != nil {
			t.Fatal(err)
		}
		check("older checkpoint", l)
		if len(got) != 1 || got["0.step"] == nil {
			t.Errorf("optimiser state %v, want 0.step alone", got)
		}
	})
}
