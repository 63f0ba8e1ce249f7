package model

import (
	"testing"

	"github.com/racnn/racnn/internal/apn"
	"github.com/racnn/racnn/internal/torch"
)

// PretrainTargets without refine is the peak square of each APN's own map;
// with refine, each square is re-centred on the next scale's peak square
// inside the zoom it cuts, composed back onto the APN's own input. The zoom
// of APN 2's square is cut from the source through box 1, as the forward
// pass cuts scale 3's input. A non-square source checks that the scale-1
// target is composed on the source's own aspect.
func TestPretrainTargetsRefine(t *testing.T) {
	torch.ManualSeed(3)
	m := newModel(t, tiny())
	tg := apn.Target{Half: 0.25, Peak: apn.PeakSquare, Window: 0.3}
	cfg := m.Cfg.APN
	torch.WithScope(func() {
		src := torch.Rand([]int64{2, 3, 40, 56})
		out := m.Forward(src, nil, false)
		plain := m.PretrainTargets(src, out, tg, false)
		refined := m.PretrainTargets(src, out, tg, true)
		if len(plain) != 2 || len(refined) != 2 {
			t.Fatalf("%d and %d targets for 2 APNs", len(plain), len(refined))
		}
		moved := false
		for k := range plain {
			coarse := apn.PretrainTargets(out.Maps[k], tg, cfg)
			assertClose(t, "plain target", plain[k], coarse, 0)
			onSource := coarse
			w, h := int64(56), int64(40)
			if k > 0 {
				onSource = apn.Compose(out.Boxes[k-1], coarse, 56, 40)
				w, h = m.Scales[k].InputSize, m.Scales[k].InputSize
			}
			next := m.Scales[k+1]
			fine := apn.PretrainTargets(next.Backbone.Forward(apn.Crop(src, onSource, next.InputSize, next.InputSize, cfg), false), tg, cfg)
			f := out.Maps[k]
			assertClose(t, "refined target", refined[k], apn.Recentre(coarse, apn.Compose(coarse, fine, w, h), float64(f.Size(3)), float64(f.Size(2)), cfg), 1e-6)
			got := refined[k].Float64s()
			c := coarse.Float64s()
			for i := 0; i < len(c); i += 3 {
				if got[i+2] != c[i+2] {
					t.Fatalf("APN %d: refined half-side %v, want the coarse %v", k+1, got[i+2], c[i+2])
				}
				moved = moved || got[i] != c[i] || got[i+1] != c[i+1]
			}
			if refined[k].RequiresGrad() {
				t.Fatal("targets carry gradient")
			}
		}
		if !moved {
			t.Fatal("refinement moved no centre")
		}
	})
}

// The APN head kind and its pool shape the weights: SetAPNConfig refuses to
// change them and accepts a change of crop mode.
func TestSetAPNConfigKeepsTheHead(t *testing.T) {
	cfg := tiny()
	cfg.APN.Head = apn.HeadSoftArgmax
	m := newModel(t, cfg)
	if _, ok := m.Scales[0].APN.(*apn.SoftArgmaxHead); !ok {
		t.Fatalf("head %T, want a soft-argmax head", m.Scales[0].APN)
	}
	c := m.Cfg.APN
	c.Head = apn.HeadFC
	if err := m.SetAPNConfig(c); err == nil {
		t.Fatal("the head kind changed on a built model")
	}
	c = m.Cfg.APN
	c.Mode = apn.ModeGrid
	if err := m.SetAPNConfig(c); err != nil {
		t.Fatal(err)
	}
	if m.Scales[1].APN.(*apn.SoftArgmaxHead).Cfg.Mode != apn.ModeGrid {
		t.Fatal("the head kept the old crop mode")
	}
}
