package train

import (
	"slices"
	"strings"
	"testing"

	"github.com/racnn/racnn/internal/config"
	"github.com/racnn/racnn/internal/model"
	"github.com/racnn/racnn/internal/torch"
)

// Each phase trains what the schedule says, and runs the backbones it does
// not train with their running statistics.
func TestPhasesTrainWhatTheyShould(t *testing.T) {
	mc := model.Small()
	mc.SmallChannels = []int64{4, model.Pool, 8}
	mc.InputSize = [3]int64{16, 16, 16}
	mc.APNHidden = 8
	mc.NumClasses = 3
	m, err := model.New(mc, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	c := config.Default()
	tr := &trainer{c: c, m: m}
	scale := Phase{Kind: PhaseScale, Epochs: 1}
	pre := Phase{Kind: PhasePretrain, Epochs: 1}
	cls := Phase{Kind: PhaseCls, Round: 1, Epochs: 1}
	rank := Phase{Kind: PhaseRank, Round: 1, Epochs: 1}
	join := func(ph Phase) string { return strings.Join(tr.trainedPrefixes(ph), " ") }

	if got := join(scale); got != "scale1.features. scale1.classifier." {
		t.Errorf("phase (a), scale_phase scale1, trains %q", got)
	}
	for _, ph := range []Phase{pre, rank} {
		if got := join(ph); got != "scale1.apn. scale2.apn." {
			t.Errorf("%s trains %q", ph, got)
		}
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

	ls := lossSettingsOf(c)
	ls.FreezeScale1 = true
	for _, tc := range []struct {
		ph     Phase
		scales int
		frozen []bool
		detach bool
	}{
		{scale, 1, nil, false},
		{pre, 0, []bool{true, true, true}, true},
		{rank, 0, []bool{true, true, true}, false},
		{cls, 0, []bool{true}, false},
	} {
		o := forwardOptions(tc.ph, ls, 3)
		if o.Scales != tc.scales || !slices.Equal(o.Frozen, tc.frozen) || o.DetachBoxes != tc.detach {
			t.Errorf("%s: forward options %+v", tc.ph, o)
		}
	}
}
