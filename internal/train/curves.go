package train

import (
	"fmt"
	"path/filepath"

	"github.com/racnn/racnn/internal/viz"
)

var phaseNames = map[string]string{
	string(PhaseScale): "scale fine-tuning", string(PhasePretrain): "APN pre-training",
	string(PhaseCls): "classification", string(PhaseRank): "ranking", string(PhaseFusion): "fusion",
}

// WriteCurves draws a run's loss and validation accuracy from its log.jsonl
// into curves.png.
func WriteCurves(runDir string) error {
	recs, err := ReadLog(filepath.Join(runDir, "log.jsonl"))
	if err != nil {
		return err
	}
	var (
		lossBy = map[string]*viz.Series{}
		order  []string
		acc    []viz.Series
		fused  = viz.Series{Name: "fused"}
		phases []viz.PhaseMark
	)
	num := func(v any) (float64, bool) { f, ok := v.(float64); return f, ok }
	for _, r := range recs {
		step, _ := num(r["step"])
		switch r["kind"] {
		case "step":
			kind, _ := r["phase_kind"].(string)
			loss, ok := num(r["loss"])
			if !ok {
				continue
			}
			s, ok := lossBy[kind]
			if !ok {
				s = &viz.Series{Name: phaseNames[kind]}
				lossBy[kind] = s
				order = append(order, kind)
			}
			s.Points = append(s.Points, viz.Point{X: step, Y: loss})
		case "eval":
			scales, _ := r["scale_acc"].([]any)
			for i, v := range scales {
				for len(acc) <= i {
					acc = append(acc, viz.Series{Name: fmt.Sprintf("scale %d", len(acc)+1)})
				}
				if f, ok := num(v); ok {
					acc[i].Points = append(acc[i].Points, viz.Point{X: step, Y: f})
				}
			}
			if f, ok := num(r["fused_acc"]); ok && len(scales) > 1 {
				fused.Points = append(fused.Points, viz.Point{X: step, Y: f})
			}
		case "phase":
			p, _ := r["phase"].(string)
			phases = append(phases, viz.PhaseMark{Step: step, Label: p})
		}
	}
	var loss []viz.Series
	for _, k := range order {
		loss = append(loss, *lossBy[k])
	}
	if len(fused.Points) > 0 {
		acc = append(acc, fused)
	}
	if len(loss) == 0 {
		return fmt.Errorf("%s: no logged steps to draw", runDir)
	}
	return viz.CurvesPNG(viz.CurvesView{Title: "racnn " + filepath.Base(runDir), Loss: loss, Acc: acc, Phases: phases, Smooth: 0.6},
		filepath.Join(runDir, "curves.png"))
}
