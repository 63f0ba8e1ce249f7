package train

import (
	"fmt"
	"math"

	"github.com/racnn/racnn/internal/apn"
	"github.com/racnn/racnn/internal/config"
	"github.com/racnn/racnn/internal/data/loader"
	"github.com/racnn/racnn/internal/loss"
	"github.com/racnn/racnn/internal/model"
	"github.com/racnn/racnn/internal/torch"
)

// stepStats are the Go values that leave a training step.
type stepStats struct {
	Loss     float64   // the optimised loss
	Parts    []float64 // its terms: per-scale (+ fused) CE, per-APN regression or rank terms
	HalfMean []float64 // per APN: mean half-side of the boxes (fraction of the shorter side)
	HalfMin  []float64
	HalfMax  []float64
}

// batchTensors copies a loader batch into tensors on dev.
func batchTensors(b *loader.Batch, dev torch.Device) (src, in, labels *torch.Tensor) {
	n := int64(b.N)
	src = torch.FromSlice(b.Source, n, 3, int64(b.SourceSize), int64(b.SourceSize)).To(dev)
	if b.InputSize == b.SourceSize {
		in = src
	} else {
		in = torch.FromSlice(b.Input, n, 3, int64(b.InputSize), int64(b.InputSize)).To(dev)
	}
	labels = torch.FromSlice(b.Labels, n).To(dev)
	return src, in, labels
}

// lossSettings are the config values a training step reads.
type lossSettings struct {
	RankMargin   float64
	Pretrain     apn.Target
	ScalePhase   string // scale1 | all
	FreezeScale1 bool
}

func lossSettingsOf(c config.Config) lossSettings {
	return lossSettings{RankMargin: c.Train.RankMargin, Pretrain: apn.Target{Half: c.Model.APN.PretrainHalf, Peak: apn.Peak(c.Model.APN.PretrainPeak), Window: c.Model.APN.PretrainWindow},
		ScalePhase: c.Train.ScalePhase, FreezeScale1: c.Train.FreezeScale1}
}

// forwardOptions is the part of the model a phase needs to run: phase (a)
// in scale1 mode trains scale 1 alone, and APN pre-training needs no
// gradient through the crops.
//
// Backbones the phase does not train run with their running batch-norm
// statistics: all of them while the APNs learn, scale 1 in classification
// phases with train.freeze_scale1. Measured on the demo's scale-1 net, the
// pre-training targets computed with batch statistics centred on the digit
// for 80.9 % of test canvases, with the running statistics 86.8 %.
func forwardOptions(ph Phase, ls lossSettings, scales int) model.ForwardOptions {
	var o model.ForwardOptions
	switch {
	case ph.Kind == PhaseScale && ls.ScalePhase == "scale1":
		o.Scales = 1
	case ph.TrainsAPN() || ph.Kind == PhaseFusion:
		o.DetachBoxes = ph.Kind != PhaseRank
		o.Frozen = make([]bool, scales)
		for s := range o.Frozen {
			o.Frozen[s] = true
		}
	case ph.Kind == PhaseCls && ls.FreezeScale1 && scales > 1: // a baseline's only scale always trains
		o.Frozen = []bool{true}
	}
	return o
}

// phaseLoss computes the loss a phase optimises from a forward pass, and
// its terms (as tensors, still in the graph).
func phaseLoss(m *model.RACNN, out *model.Output, labels *torch.Tensor, ph Phase, ls lossSettings) (*torch.Tensor, []*torch.Tensor) {
	var terms []*torch.Tensor
	switch ph.Kind {
	case PhaseScale, PhaseCls:
		for _, l := range out.Logits {
			terms = append(terms, loss.CrossEntropy(l, labels))
		}
		for _, f := range []*torch.Tensor{out.Fused, out.Fused12} {
			if f != nil {
				terms = append(terms, loss.CrossEntropy(f, labels))
			}
		}
	case PhaseFusion:
		for _, f := range []*torch.Tensor{out.Fused, out.Fused12} {
			if f != nil {
				terms = append(terms, loss.CrossEntropy(f, labels))
			}
		}
	case PhasePretrain:
		// Each APN regresses the square around the peak of its own scale's
		// last conv response (PAPER.md, training step 2).
		for k, box := range out.RawBoxes {
			var target *torch.Tensor
			torch.NoGrad(func() {
				target = apn.PretrainTargets(out.Maps[k].Detach(), ls.Pretrain, m.Cfg.APN)
			})
			terms = append(terms, box.Sub(target).Square().Mean())
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

// errNonFinite is returned when a loss is NaN or infinite: the step is not
// applied, so the model and the last checkpoint stay good.
type errNonFinite struct {
	loss  float64
	phase Phase
	step  int64
}

func (e *errNonFinite) Error() string {
	return fmt.Sprintf("loss is %v at step %d (phase %s): stopped before applying the update", e.loss, e.step, e.phase)
}

// trainStep runs forward, backward and the update for one batch. Every
// tensor it creates is freed when it returns; only Go values leave it.
func trainStep(m *model.RACNN, po *phaseOptimizer, b *loader.Batch, ph Phase, ls lossSettings, step int64) (st stepStats, err error) {
	err = torch.Try(func() {
		s := torch.NewScope()
		defer s.Close()
		src, in, labels := batchTensors(b, m.Device())
		out := m.ForwardWith(src, in, true, forwardOptions(ph, ls, len(m.Scales)))
		total, terms := phaseLoss(m, out, labels, ph, ls)
		st.Loss = total.Item()
		if math.IsNaN(st.Loss) || math.IsInf(st.Loss, 0) {
			return
		}
		po.opt.ZeroGrad()
		total.Backward()
		po.update()
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
	if err == nil && (math.IsNaN(st.Loss) || math.IsInf(st.Loss, 0)) {
		err = &errNonFinite{loss: st.Loss, phase: ph, step: step}
	}
	return st, err
}
