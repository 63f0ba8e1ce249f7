package train

import (
	"fmt"
	"math"
	"slices"

	"github.com/racnn/racnn/internal/apn"
	"github.com/racnn/racnn/internal/config"
	"github.com/racnn/racnn/internal/data/loader"
	"github.com/racnn/racnn/internal/loss"
	"github.com/racnn/racnn/internal/model"
	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/rundata"
	"github.com/racnn/racnn/internal/torch"
)

// stepStats are the Go values that leave a training step.
type stepStats struct {
	Loss     float64   // the optimised loss
	Parts    []float64 // its terms: per-scale (+ fused) CE, per-APN regression or rank terms
	HalfMean []float64 // per APN: mean half-side of the boxes (fraction of the shorter side)
	HalfMin  []float64
	HalfMax  []float64
	// Skipped says the loss scaler found infs or NaNs in the gradients (or
	// the loss) and the update was not applied.
	Skipped bool
}

// lossSettings are the config values a phase's loss reads.
type lossSettings struct {
	RankMargin float64
	Pretrain   apn.Target
	Refine     bool // model.apn.pretrain_refine
	PretrainL1 bool // model.apn.pretrain_loss: l1 (else mse)
}

func lossSettingsOf(c config.Config) lossSettings {
	return lossSettings{RankMargin: c.Train.RankMargin, Pretrain: apn.Target{Half: c.Model.APN.PretrainHalf,
		Peak: apn.Peak(c.Model.APN.PretrainPeak), Window: c.Model.APN.PretrainWindow}, Refine: c.Model.APN.PretrainRefine,
		PretrainL1: c.Model.APN.PretrainLoss == "l1"}
}

// forwardOptions is how a phase runs the model, derived from the groups it
// trains (trainer.trainedGroups) and the model's scales:
//   - phase (a) training scale 1 alone runs scale 1 alone;
//   - APN pre-training runs every scale but the last, and every APN on it
//     (its targets come from each APN's own scale);
//   - a backbone the phase does not train runs with its running batch-norm
//     statistics: all of them while the APNs or the fusion classifiers
//     learn, scale 1 in classification phases with train.freeze_scale1,
//     so an APN learns on the features it will see at test time;
//   - where no loss needs a gradient through the crops (APN pre-training,
//     the fusion phase), the boxes are cut from the graph.
func forwardOptions(ph Phase, trained []*nn.Group, scales []model.ScaleGroups) model.ForwardOptions {
	trains := func(s int) bool { return slices.Contains(trained, scales[s-1].Backbone) } // s is 1-based
	o := model.ForwardOptions{DetachBoxes: ph.Kind == PhasePretrain || ph.Kind == PhaseFusion}
	run := len(scales)
	if ph.Kind == PhaseScale && run > 1 && !trains(2) {
		o.Scales, run = 1, 1
	}
	if ph.Kind == PhasePretrain && run > 1 {
		o.Scales, run, o.AllBoxes = run-1, run-1, true
	}
	// Frozen lists the scales up to the last frozen one (the rest train).
	for s := run; s >= 1; s-- {
		if !trains(s) {
			o.Frozen = make([]bool, s)
			for i := range o.Frozen {
				o.Frozen[i] = !trains(i + 1)
			}
			break
		}
	}
	return o
}

// phaseLoss computes the loss a phase optimises from a forward pass, and
// its terms (as tensors, still in the graph).
func phaseLoss(m *model.RACNN, src *torch.Tensor, out *model.Output, labels *torch.Tensor, ph Phase, ls lossSettings) (*torch.Tensor, []*torch.Tensor) {
	var terms []*torch.Tensor
	fused := func() {
		for _, f := range []*torch.Tensor{out.Fused, out.Fused12} {
			if f != nil {
				terms = append(terms, loss.CrossEntropy(f, labels))
			}
		}
	}
	switch ph.Kind {
	case PhaseScale, PhaseCls:
		for _, l := range out.ClassifierLogits() {
			terms = append(terms, loss.CrossEntropy(l, labels))
		}
	case PhaseFusion:
		fused()
	case PhasePretrain:
		// Each APN regresses the square around the peak of its own scale's
		// last conv response (the paper's APN pre-training), re-centred by the
		// next scale with model.apn.pretrain_refine.
		targets := m.PretrainTargets(src, out, ls.Pretrain, ls.Refine)
		for k, box := range out.RawBoxes {
			d := box.Sub(targets[k])
			if ls.PretrainL1 {
				terms = append(terms, d.Abs().Mean())
			} else {
				terms = append(terms, d.Square().Mean())
			}
		}
	case PhaseRank:
		for s := 0; s+1 < len(out.Logits); s++ {
			terms = append(terms, loss.Rank(out.Logits[s], out.Logits[s+1], labels, ls.RankMargin))
		}
	}
	total := terms[0]
	for _, t := range terms[1:] {
		total = total.Add(t)
	}
	return total, terms
}

// errNonFinite is returned when a loss is NaN or infinite (without a loss
// scaler), or when the loss scaler has backed off below minLossScale: the
// step is not applied, so the model and the last checkpoint stay good.
type errNonFinite struct {
	loss      float64
	phase     Phase
	step      int64
	otherRank bool    // this rank's loss was finite, another rank's was not
	scale     float32 // the loss scale, when a loss scaler gave up
}

func (e *errNonFinite) Error() string {
	if e.scale > 0 {
		return fmt.Sprintf("the gradients were not finite at any loss scale: it fell to %g at step %d (phase %s, loss %v); stopped before applying the update", e.scale, e.step, e.phase, e.loss)
	}
	if e.otherRank {
		return fmt.Sprintf("the loss of another rank is not finite at step %d (phase %s): every rank stopped before applying the update", e.step, e.phase)
	}
	return fmt.Sprintf("loss is %v at step %d (phase %s): stopped before applying the update", e.loss, e.step, e.phase)
}

// minLossScale is the smallest loss scale a run goes on with: float16's
// smallest subnormal, 2⁻²⁴. A scale halved this far (40 skipped steps in a
// row from 65536) means the gradients overflow at any scale.
const minLossScale = 0x1p-24

// trainStep runs forward, backward and the update for one loader batch.
// Every tensor it creates is freed when it returns; only Go values leave it.
func trainStep(m *model.RACNN, po *phaseOptimizer, b *loader.Batch, ph Phase, fo model.ForwardOptions, ls lossSettings, step int64) (stepStats, error) {
	return optimiseStep(po, ph, step, func() (*model.Output, *torch.Tensor, []*torch.Tensor) {
		src, in, labels := rundata.Tensors(b, m.Device())
		out := m.ForwardWith(src, in, true, fo)
		total, terms := phaseLoss(m, src, out, labels, ph, ls)
		return out, total, terms
	})
}

// optimiseStep computes a step's loss with forward (inside a scope of its
// own), refuses a NaN or infinite one before any update, and otherwise
// back-propagates and applies the update. With a loss scaler (po.scaler)
// the scaled loss is back-propagated, and a step whose loss or gradients
// are not finite is skipped and the scale backed off, as PyTorch's
// GradScaler does; only a scale below minLossScale stops the run.
func optimiseStep(po *phaseOptimizer, ph Phase, step int64, forward func() (*model.Output, *torch.Tensor, []*torch.Tensor)) (st stepStats, err error) {
	nonFinite := false
	err = torch.Try(func() {
		s := torch.NewScope()
		defer s.Close()
		out, total, terms := forward()
		st.Loss = total.Item()
		// Every rank skips the update when any rank's loss is not finite.
		if po.dp.anyRank(math.IsNaN(st.Loss) || math.IsInf(st.Loss, 0)) {
			if po.scaler != nil {
				po.scaler.Update(true)
				st.Skipped = true
				return
			}
			nonFinite = true
			return
		}
		po.opt.ZeroGrad()
		if po.scaler != nil {
			po.scaler.ScaleLoss(total).Backward()
		} else {
			total.Backward()
		}
		st.Skipped = !po.update()
		for _, t := range terms {
			st.Parts = append(st.Parts, t.Item())
		}
		for _, box := range out.Boxes {
			half := box.Narrow(1, 2, 1).Float64s()
			mean, lo, hi := 0.0, math.Inf(1), math.Inf(-1)
			for _, h := range half {
				mean += h / float64(len(half))
				lo, hi = math.Min(lo, h), math.Max(hi, h)
			}
			st.HalfMean, st.HalfMin, st.HalfMax = append(st.HalfMean, mean), append(st.HalfMin, lo), append(st.HalfMax, hi)
		}
	})
	switch {
	case err != nil:
	case st.Skipped && po.scaler.Scale < minLossScale:
		err = &errNonFinite{loss: st.Loss, phase: ph, step: step, scale: po.scaler.Scale}
	case nonFinite:
		err = &errNonFinite{loss: st.Loss, phase: ph, step: step, otherRank: !math.IsNaN(st.Loss) && !math.IsInf(st.Loss, 0)}
	}
	return st, err
}
