// Package train runs RA-CNN's training schedule (docs/method.md): (a) fine-tune the
// scales' classification networks, (b) pre-train each APN on the squares
// around the peak response of the last conv layer, (c) alternate
// classification phases (APNs frozen, softmax losses) and ranking phases
// (everything else frozen, rank loss). It evaluates as the paper reports,
// keeps the best model by validation accuracy, and writes runs that survive
// interruption: atomic checkpoints, resume, NaN guards.
package train

import (
	"fmt"

	"github.com/racnn/racnn/internal/config"
)

// PhaseKind names what a phase trains and with which loss.
type PhaseKind string

const (
	PhaseScale    PhaseKind = "scale"    // (a) classification networks, cross-entropy
	PhasePretrain PhaseKind = "pretrain" // (b) APNs regress peak-response squares
	PhaseCls      PhaseKind = "cls"      // (c) classification networks, APNs frozen
	PhaseRank     PhaseKind = "rank"     // (c) APNs, rank loss, everything else frozen
	PhaseFusion   PhaseKind = "fusion"   // (d) fusion classifiers alone, on the final features
)

// Phase is one stretch of the schedule.
type Phase struct {
	Kind   PhaseKind `json:"kind"`
	Round  int       `json:"round"` // alternation round for cls/rank, 0 otherwise
	Epochs int       `json:"epochs"`
}

func (p Phase) String() string {
	if p.Round > 0 {
		return fmt.Sprintf("%s#%d", p.Kind, p.Round)
	}
	return string(p.Kind)
}

// TrainsAPN reports whether the phase optimises the APNs (else the
// classification networks).
func (p Phase) TrainsAPN() bool { return p.Kind == PhasePretrain || p.Kind == PhaseRank }

// Schedule lists the phases a config asks for, skipping empty ones. A
// single-scale model has no APN, so only its classification phases remain.
func Schedule(c config.Config) []Phase {
	var ps []Phase
	add := func(k PhaseKind, round, epochs int) {
		if epochs > 0 {
			ps = append(ps, Phase{Kind: k, Round: round, Epochs: epochs})
		}
	}
	add(PhaseScale, 0, c.Train.ScaleEpochs)
	if c.Model.Scales > 1 {
		add(PhasePretrain, 0, c.Train.PretrainEpochs)
	}
	for r := 1; r <= c.Train.Alternations; r++ {
		add(PhaseCls, r, c.Train.ClsEpochs)
		if c.Model.Scales > 1 {
			add(PhaseRank, r, c.Train.RankEpochs)
		}
	}
	if c.Model.Scales > 1 {
		add(PhaseFusion, 0, c.Train.FusionEpochs)
	}
	return ps
}

// rankDataEpochs offsets the data epochs of ranking phases (DataEpoch).
const rankDataEpochs = 1 << 20

// DataEpoch returns the number that seeds the training loader's shuffle for
// epoch e of phase p of sched. Ranking phases draw from numbers of their
// own, so every other phase sees the same data order whether the schedule
// has ranking phases or not: the ranking-off ablation (train.rank_epochs 0)
// then differs from the full schedule only by what the ranking phases did
// to the APNs, not by the order of the data the later phases saw.
func DataEpoch(sched []Phase, p, e int) int {
	other, rank := 0, 0
	for _, ph := range sched[:p] {
		if ph.Kind == PhaseRank {
			rank += ph.Epochs
		} else {
			other += ph.Epochs
		}
	}
	if sched[p].Kind == PhaseRank {
		return rankDataEpochs + rank + e
	}
	return other + e
}
