package train

import (
	"fmt"
	"math"
	"testing"

	"github.com/racnn/racnn/internal/config"
	"github.com/racnn/racnn/internal/data"
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

func TestIoU(t *testing.T) {
	cases := []struct {
		a, b [4]float64
		want float64
	}{
		{[4]float64{0, 0, 10, 10}, [4]float64{0, 0, 10, 10}, 1},
		{[4]float64{0, 0, 10, 10}, [4]float64{5, 0, 15, 10}, 50.0 / 150},
		{[4]float64{0, 0, 10, 10}, [4]float64{10, 10, 20, 20}, 0},
		{[4]float64{0, 0, 10, 10}, [4]float64{2, 2, 4, 4}, 4.0 / 100},
	}
	for _, c := range cases {
		if got := IoU(c.a, c.b); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("IoU(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
	// (t_x, t_y, t_l) fractions of a 100 px side to pixels.
	if got := boxPixels([]float64{0.5, 0.25, 0.1}, 100); got != [4]float64{40, 15, 60, 35} {
		t.Errorf("boxPixels %v", got)
	}
}

// The attention-box tally: IoU, pointing (the box centre inside the object
// box), holding (the whole object inside the box), and which of the scale's
// errors were made with the object held.
func TestBoxTally(t *testing.T) {
	obj := [4]float64{40, 40, 60, 70} // 20 x 30 px
	var tl boxTally
	for _, c := range []struct {
		box   [4]float64
		right bool
	}{
		{[4]float64{30, 30, 70, 80}, true},  // holds it, centre on it (IoU 0.3)
		{[4]float64{30, 30, 70, 80}, false}, // the same, misread
		{[4]float64{45, 45, 75, 75}, false}, // centre (60, 60) on its edge, cuts it
		{[4]float64{0, 0, 30, 30}, false},   // off it
		{[4]float64{40, 40, 60, 70}, true},  // exactly it: held, IoU 1
	} {
		tl.add(c.box, obj, c.right)
	}
	want := boxTally{n: 5, iou50: 1, pointing: 4, holds: 3, errors: 3, errorsHeld: 1,
		iouSum: 600.0/2000 + 600.0/2000 + 375.0/(600+900-375) + 0 + 1}
	if d := math.Abs(tl.iouSum - want.iouSum); d > 1e-12 {
		t.Errorf("IoU sum %v, want %v", tl.iouSum, want.iouSum)
	}
	tl.iouSum = want.iouSum
	if tl != want {
		t.Errorf("tally %+v, want %+v", tl, want)
	}
}

func TestHoldOutIsStratifiedAndDisjoint(t *testing.T) {
	ds := &data.Dataset{Classes: []string{"a", "b", "c"}}
	for i := 0; i < 90; i++ {
		ds.Items = append(ds.Items, data.Item{Path: string(rune('A'+i%26)) + string(rune('0'+i)), Label: i % 3})
	}
	tr, va := holdOut(ds, 0.2, 7)
	if len(tr.Items)+len(va.Items) != 90 || len(va.Items) != 18 {
		t.Fatalf("split %d + %d", len(tr.Items), len(va.Items))
	}
	per := map[int]int{}
	seen := map[string]bool{}
	for _, it := range va.Items {
		per[it.Label]++
		seen[it.Path] = true
	}
	for c := 0; c < 3; c++ {
		if per[c] != 6 {
			t.Errorf("class %d has %d validation items, want 6", c, per[c])
		}
	}
	for _, it := range tr.Items {
		if seen[it.Path] {
			t.Fatalf("%s in both splits", it.Path)
		}
	}
	// The same seed gives the same split.
	_, va2 := holdOut(ds, 0.2, 7)
	for i := range va.Items {
		if va.Items[i].Path != va2.Items[i].Path {
			t.Fatal("hold-out is not deterministic")
		}
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
