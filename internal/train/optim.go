package train

import (
	"math"
	"slices"

	"github.com/racnn/racnn/internal/config"
	"github.com/racnn/racnn/internal/model"
	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/torch"
)

// phaseOptimizer is a phase's optimiser with its learning-rate schedule.
type phaseOptimizer struct {
	opt      torch.Optimizer
	cfg      config.Optimizer
	baseLR   []float64 // per group, before the schedule
	total    int       // steps in the phase
	perEpoch int
	params   []*torch.Tensor
	trained  []*nn.Group   // the groups it trains
	dp       *dataParallel // averages the gradients over the ranks (nil: one process)
	// scaler is the run's loss scaler (runtime.loss_scale), nil without one.
	scaler *torch.GradScaler
}

// newPhaseOptimizer builds the optimiser over the parameters of m's groups
// that the phase trains, in the store's order (the order its state is saved
// in). Param groups: "backbone" (the scales' backbones, which ImageNet
// weights can start) at lr, "heads" (classifiers, fusion, APNs, new
// layers) at lr × head_lr_mult.
func newPhaseOptimizer(m *model.RACNN, trained []*nn.Group, oc config.Optimizer, stepsPerEpoch, epochs int) *phaseOptimizer {
	backbone := &torch.ParamGroup{Name: "backbone", LR: oc.LR, WeightDecay: oc.WeightDecay}
	heads := &torch.ParamGroup{Name: "heads", LR: oc.LR * oc.HeadLRMult, WeightDecay: oc.WeightDecay}
	backbones := m.Groups.Backbones()
	var all []*torch.Tensor
	for _, e := range m.Store.Entries() {
		if e.Buffer || !slices.Contains(trained, e.Group()) {
			continue
		}
		if slices.Contains(backbones, e.Group()) {
			backbone.Params = append(backbone.Params, e.T)
		} else {
			heads.Params = append(heads.Params, e.T)
		}
		all = append(all, e.T)
	}
	groups := []*torch.ParamGroup{backbone, heads}
	var opt torch.Optimizer
	switch oc.Name {
	case "sgd":
		opt = torch.NewSGD(groups, oc.Momentum, 0, oc.Nesterov)
	case "adam":
		opt = torch.NewAdam(groups, 0.9, 0.999, 1e-8, false, false)
	case "adamw":
		opt = torch.NewAdam(groups, 0.9, 0.999, 1e-8, true, false)
	}
	return &phaseOptimizer{opt: opt, cfg: oc, baseLR: []float64{backbone.LR, heads.LR},
		total: stepsPerEpoch * epochs, perEpoch: stepsPerEpoch, params: all, trained: trained}
}

// setStep applies the schedule for step (0-based within the phase) and
// returns the heads' learning rate.
func (p *phaseOptimizer) setStep(step int) float64 {
	f := 1.0
	switch p.cfg.Schedule {
	case "cosine":
		if p.total > 1 {
			f = 0.5 * (1 + math.Cos(math.Pi*float64(step)/float64(p.total)))
		}
	case "step":
		if p.perEpoch > 0 {
			f = math.Pow(p.cfg.Gamma, float64(step/p.perEpoch/p.cfg.StepEpochs))
		}
	}
	for i, g := range p.opt.Groups() {
		g.LR = p.baseLR[i] * f
	}
	return p.opt.Groups()[1].LR
}

// update zeroes nothing: the caller zeroes before backward. It averages
// the gradients over the ranks; with a loss scaler it then unscales them
// and skips the step when they hold infs or NaNs (returning false; every
// rank sees the same averaged gradients, so every rank skips), moving the
// scale either way; then it clips when configured (on the true gradients)
// and steps.
func (p *phaseOptimizer) update() bool {
	p.dp.allReduceGrads(p.params) // clipping and the update see the averaged gradients
	if p.scaler != nil {
		inf := p.scaler.Unscale(p.params)
		p.scaler.Update(inf)
		if inf {
			return false
		}
	}
	if p.cfg.ClipNorm > 0 {
		torch.ClipGradNorm(p.params, p.cfg.ClipNorm)
	}
	p.opt.Step()
	return true
}
