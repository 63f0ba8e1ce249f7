package train

import (
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/config"
	"github.com/racnn/racnn/internal/data/loader"
	"github.com/racnn/racnn/internal/model"
	"github.com/racnn/racnn/internal/rundata"
	"github.com/racnn/racnn/internal/torch"
)

// Batch norm in a ResNet backbone: a phase that freezes a backbone (the
// APNs' phases), and every phase with model.freeze_bn, leaves its running
// statistics, weight and bias as they were, and its step computes what
// evaluation computes; a classification phase without freeze_bn moves them
// (so the check can fail).
func TestFrozenBatchNorm(t *testing.T) {
	const n, side = 2, 64
	rng := rand.New(rand.NewSource(2))
	src := make([]float32, n*3*side*side)
	for i := range src {
		src[i] = rng.Float32()
	}
	batch := &loader.Batch{N: n, SourceSize: side, InputSize: side, Source: src, Input: src, Labels: []int64{0, 2}}
	rank := Phase{Kind: PhaseRank, Round: 1, Epochs: 1}
	cls := Phase{Kind: PhaseCls, Round: 1, Epochs: 1}
	for _, tc := range []struct {
		name     string
		freezeBN bool
		ph       Phase
		moves    bool // whether scale 1's batch norms may change
	}{
		{"ranking phase", false, rank, false},
		{"classification phase, freeze_bn", true, cls, false},
		{"classification phase", false, cls, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mc := model.Default()
			mc.Backbone, mc.FreezeBN = "resnet50", tc.freezeBN
			mc.NumClasses, mc.Scales, mc.InputSize, mc.APNHidden = 3, 2, [3]int64{side, side, side}, 8
			m := newTinyModel(t, mc)
			c := config.Default()
			c.Optim.Cls.LR = 0.1 // batch-norm weights move visibly when trained
			tr := &trainer{c: c, m: m}
			trained := tr.trainedGroups(tc.ph)
			m.Store.SetTrainable(trained...)
			oc := map[PhaseKind]config.Optimizer{PhaseCls: c.Optim.Cls, PhaseRank: c.Optim.Rank}[tc.ph.Kind]
			po := newPhaseOptimizer(m, trained, oc, 1, 1)
			defer po.opt.Free()
			fo := forwardOptions(tc.ph, trained, m.Groups.Scales)

			// Scale 1's batch-norm tensors: every 1-D one of the backbone
			// (a ResNet's convolutions have no bias) and the counters.
			var bn []string
			for _, name := range m.Store.Names() {
				if strings.HasPrefix(name, "scale1.features.") && len(m.Store.Get(name).Shape()) <= 1 {
					bn = append(bn, name)
				}
			}
			before := map[string][]float64{}
			for _, name := range m.Store.Names() {
				before[name] = m.Store.Get(name).ToDType(torch.Float64).Float64s()
			}
			var stepLogits, evalLogits []float64
			torch.WithScope(func() {
				s, in, _ := rundata.Tensors(batch, torch.CPU)
				err := torch.Try(func() {
					torch.NoGrad(func() {
						evalLogits = m.Forward(s, in, false).Logits[0].Float64s()
						stepLogits = m.ForwardWith(s, in, true, fo).Logits[0].Float64s()
					})
				})
				if err != nil {
					t.Fatal(err)
				}
			})
			if _, err := trainStep(m, po, batch, tc.ph, fo, lossSettingsOf(c), 1); err != nil {
				t.Fatal(err)
			}
			changed := 0
			for _, name := range bn {
				if !slices.Equal(before[name], m.Store.Get(name).ToDType(torch.Float64).Float64s()) {
					changed++
					if !tc.moves {
						t.Errorf("%s changed", name)
					}
				}
			}
			sameOutput := slices.Equal(stepLogits, evalLogits)
			if tc.moves {
				if changed < len(bn)/2 || sameOutput {
					t.Errorf("a trained backbone's batch norms: %d of %d tensors changed, step output equals eval's: %v", changed, len(bn), sameOutput)
				}
				return
			}
			if !sameOutput {
				t.Errorf("the step's scale-1 logits %v differ from evaluation's %v", stepLogits, evalLogits)
			}
			// The step trained something: the APNs, or the convolutions.
			probe := map[bool]string{false: "scale1.apn.fc1.weight", true: "scale1.features.layer1.0.conv1.weight"}[tc.freezeBN]
			if slices.Equal(before[probe], m.Store.Get(probe).ToDType(torch.Float64).Float64s()) {
				t.Errorf("%s did not move: the step trained nothing", probe)
			}
		})
	}
}
