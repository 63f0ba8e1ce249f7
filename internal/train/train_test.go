package train

import (
	"fmt"
	"testing"

	"github.com/racnn/racnn/internal/config"
)

func TestScheduleFollowsThePaper(t *testing.T) {
	c := config.Default()
	c.Train.ScaleEpochs, c.Train.PretrainEpochs, c.Train.Alternations, c.Train.ClsEpochs, c.Train.RankEpochs = 3, 2, 2, 4, 1
	got := ""
	for _, p := range Schedule(c) {
		got += p.String() + " "
	}
	if want := "scale pretrain cls#1 rank#1 cls#2 rank#2 "; got != want {
		t.Fatalf("schedule %q, want %q", got, want)
	}
	c.Train.FusionEpochs = 1 // (d) last, after the alternations
	got = ""
	for _, p := range Schedule(c) {
		got += p.String() + " "
	}
	if want := "scale pretrain cls#1 rank#1 cls#2 rank#2 fusion "; got != want {
		t.Fatalf("schedule with fusion_epochs %q, want %q", got, want)
	}
	c.Train.RankEpochs, c.Train.FusionEpochs = 0, 0 // the ranking-off ablation
	c.Model.Scales = 3
	got = ""
	for _, p := range Schedule(c) {
		got += p.String() + " "
	}
	if want := "scale pretrain cls#1 cls#2 "; got != want {
		t.Fatalf("ablation schedule %q, want %q", got, want)
	}
	c.Model.Scales, c.Train.FusionEpochs = 1, 1 // the single-scale baseline has no APN or fusion phases
	got = ""
	for _, p := range Schedule(c) {
		got += p.String() + " "
	}
	if want := "scale cls#1 cls#2 "; got != want {
		t.Fatalf("baseline schedule %q, want %q", got, want)
	}
}

// Every phase but ranking gets the same data epochs with and without the
// ranking phases, and no two epochs of a schedule share one.
func TestDataEpochsIgnoreRankPhases(t *testing.T) {
	c := config.Default()
	c.Train.ScaleEpochs, c.Train.PretrainEpochs, c.Train.Alternations, c.Train.ClsEpochs, c.Train.RankEpochs, c.Train.FusionEpochs = 3, 2, 2, 4, 2, 2
	epochs := func(c config.Config) (map[string]int, map[int]bool) {
		sched := Schedule(c)
		byName, seen := map[string]int{}, map[int]bool{}
		for p, ph := range sched {
			for e := 0; e < ph.Epochs; e++ {
				d := DataEpoch(sched, p, e)
				if seen[d] {
					t.Fatalf("rank_epochs %d: data epoch %d used twice", c.Train.RankEpochs, d)
				}
				seen[d] = true
				byName[fmt.Sprintf("%s/%d", ph, e)] = d
			}
		}
		return byName, seen
	}
	full, _ := epochs(c)
	c.Train.RankEpochs = 0
	ablation, _ := epochs(c)
	if len(full) != len(ablation)+4 {
		t.Fatalf("%d epochs with ranking, %d without", len(full), len(ablation))
	}
	for name, d := range ablation {
		if full[name] != d {
			t.Errorf("%s: data epoch %d with ranking phases, %d without", name, full[name], d)
		}
	}
	if full["cls#2/0"] != 3+2+4 {
		t.Errorf("cls#2 starts at data epoch %d, want 9 (after 3 + 2 + 4 epochs)", full["cls#2/0"])
	}
}

// Validation comes every train.eval_every epochs (and at phase ends, which
// the caller adds), except inside the fusion phase.
func TestValidatesAfter(t *testing.T) {
	c := config.Default()
	for _, tc := range []struct {
		every int
		kind  PhaseKind
		want  string // epochs 1..6 validated before the phase end
	}{{2, PhaseCls, "2 4 6 "}, {1, PhaseScale, "1 2 3 4 5 6 "}, {0, PhaseCls, ""}, {1, PhaseFusion, ""}, {2, PhaseRank, "2 4 6 "}} {
		c.Train.EvalEvery = tc.every
		tr := &trainer{c: c}
		got := ""
		for e := 1; e <= 6; e++ {
			if tr.validatesAfter(Phase{Kind: tc.kind, Epochs: 10}, e) {
				got += fmt.Sprint(e) + " "
			}
		}
		if got != tc.want {
			t.Errorf("eval_every %d, %s phase: validated after epochs %q, want %q", tc.every, tc.kind, got, tc.want)
		}
	}
}
