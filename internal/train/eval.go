package train

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/racnn/racnn/internal/data/loader"
	"github.com/racnn/racnn/internal/model"
	"github.com/racnn/racnn/internal/torch"
)

// Metrics is an evaluation as the paper reports it: accuracy of each scale,
// of scales 1+2 and of the fused classifier (1+2+3), and, where the data set
// has object boxes, how well each attention box covers the object.
type Metrics struct {
	N        int       `json:"n"`
	Scale    []float64 `json:"scale_acc"`          // per scale, in [0, 1]
	Scales12 float64   `json:"scales12_acc"`       // scales 1+2 (see model.Output.Fused12)
	Fused    float64   `json:"fused_acc"`          // scales 1+2+3 fusion classifier
	Best     float64   `json:"best_acc"`           // the kept-model criterion (fused, or scale 1 for one scale)
	WithBox  int       `json:"with_box"`           // samples with an annotated box
	MeanIoU  []float64 `json:"mean_iou,omitempty"` // per attention box (input of scale 2, 3)
	IoU50    []float64 `json:"iou50,omitempty"`    // share with IoU >= 0.5
	Pointing []float64 `json:"pointing,omitempty"` // share whose centre lies inside the object box
	// Holds is the share whose box holds the whole object box, and
	// ErrorsHeld the share of the box's scale's errors made with the whole
	// object in view: errors of reading, which no move of the box mends.
	Holds      []float64 `json:"holds_object,omitempty"`
	ErrorsHeld []float64 `json:"errors_object_held,omitempty"`
	Loss       float64   `json:"loss"` // mean cross-entropy of the fused (or only) classifier
	// Right says, per scale and image (in the loader's order), whether
	// that scale read the image right: what a paired comparison of two
	// models on the same split needs (train.rank_keep_p).
	Right [][]bool `json:"-"`
}

// Evaluate runs the model over one epoch of l (no augmentation expected) and
// returns its metrics. It stops early when ctx is cancelled.
func Evaluate(ctx context.Context, m *model.RACNN, l *loader.Loader, progress func(done, total int)) (Metrics, error) {
	scales := len(m.Scales)
	nBoxes := scales - 1
	var (
		n, withBox        int
		correct           = make([]int, scales)
		correct12, fusedC int
		lossSum           float64
		tally             = make([]boxTally, nBoxes)
		allRight          = make([][]bool, scales)
	)
	ep := l.Epoch(ctx, 0)
	defer ep.Close()
	total := l.NumBatches()
	done := 0
	for r := range ep.Batches() {
		if r.Err != nil {
			return Metrics{}, r.Err
		}
		b := r.Batch
		err := torch.Try(func() {
			s := torch.NewScope()
			defer s.Close()
			torch.NoGrad(func() {
				src, in, labels := batchTensors(b, m.Device())
				out := m.Forward(src, in, false)
				right := make([][]bool, len(out.Logits))
				for k, lg := range out.Logits {
					right[k] = rightOnes(lg, b.Labels)
					allRight[k] = append(allRight[k], right[k]...)
					for _, r := range right[k] {
						if r {
							correct[k]++
						}
					}
				}
				final := out.Logits[0]
				if out.Fused != nil {
					final = out.Fused
					fusedC += countCorrect(out.Fused, b.Labels)
				}
				if out.Fused12 != nil {
					correct12 += countCorrect(out.Fused12, b.Labels)
				}
				lossSum += torch.CrossEntropy(final, labels, torch.ReduceSum, 0).Item()
				for k, box := range out.Boxes {
					bx := box.Float64s()
					for i := 0; i < b.N; i++ {
						if !b.HasBox[i] {
							continue
						}
						gt := b.Boxes[i]
						tally[k].add(boxPixels(bx[3*i:3*i+3], b.SourceSize), [4]float64{gt.X, gt.Y, gt.X + gt.W, gt.Y + gt.H}, right[k+1][i])
					}
				}
			})
		})
		if err != nil {
			return Metrics{}, err
		}
		for i := 0; i < b.N; i++ {
			if b.HasBox[i] {
				withBox++
			}
		}
		n += b.N
		b.Release()
		done++
		if progress != nil {
			progress(done, total)
		}
	}
	if err := ep.Err(); err != nil {
		return Metrics{}, err
	}
	if n == 0 {
		return Metrics{}, fmt.Errorf("evaluation: the split has no images")
	}
	mt := Metrics{N: n, WithBox: withBox, Loss: lossSum / float64(n), Right: allRight}
	for _, c := range correct {
		mt.Scale = append(mt.Scale, float64(c)/float64(n))
	}
	mt.Best = mt.Scale[0]
	if scales > 1 {
		mt.Fused = float64(fusedC) / float64(n)
		mt.Scales12 = float64(correct12) / float64(n)
		mt.Best = mt.Fused
	}
	if withBox > 0 {
		for _, t := range tally {
			n := float64(t.n)
			mt.MeanIoU = append(mt.MeanIoU, t.iouSum/n)
			mt.IoU50 = append(mt.IoU50, float64(t.iou50)/n)
			mt.Pointing = append(mt.Pointing, float64(t.pointing)/n)
			mt.Holds = append(mt.Holds, float64(t.holds)/n)
			mt.ErrorsHeld = append(mt.ErrorsHeld, float64(t.errorsHeld)/math.Max(float64(t.errors), 1))
		}
	}
	return mt, nil
}

// boxTally counts how one attention box meets the annotated object boxes.
type boxTally struct {
	n, iou50, pointing, holds int
	iouSum                    float64
	errors, errorsHeld        int // the box's scale's errors, and those with the object held
}

// add counts one image: its attention box and object box (x1, y1, x2, y2
// pixels), and whether the scale reading the box classified it right.
func (t *boxTally) add(box, obj [4]float64, right bool) {
	t.n++
	iou := IoU(box, obj)
	t.iouSum += iou
	if iou >= 0.5 {
		t.iou50++
	}
	cx, cy := (box[0]+box[2])/2, (box[1]+box[3])/2
	if cx >= obj[0] && cx <= obj[2] && cy >= obj[1] && cy <= obj[3] {
		t.pointing++
	}
	held := box[0] <= obj[0] && box[1] <= obj[1] && box[2] >= obj[2] && box[3] >= obj[3]
	if held {
		t.holds++
	}
	if !right {
		t.errors++
		if held {
			t.errorsHeld++
		}
	}
}

// rightOnes reports per sample whether logits' top class is the label.
func rightOnes(logits *torch.Tensor, labels []int64) []bool {
	pred := logits.Argmax(1, false).Int64s()
	r := make([]bool, len(pred))
	for i, p := range pred {
		r[i] = p == labels[i]
	}
	return r
}

func countCorrect(logits *torch.Tensor, labels []int64) int {
	c := 0
	for _, r := range rightOnes(logits, labels) {
		if r {
			c++
		}
	}
	return c
}

// boxPixels converts (t_x, t_y, t_l) fractions of a square side into
// x1, y1, x2, y2 pixels.
func boxPixels(b []float64, side int) [4]float64 {
	s := float64(side)
	return [4]float64{(b[0] - b[2]) * s, (b[1] - b[2]) * s, (b[0] + b[2]) * s, (b[1] + b[2]) * s}
}

// IoU is the intersection over union of two x1, y1, x2, y2 boxes.
func IoU(a, b [4]float64) float64 {
	iw := math.Min(a[2], b[2]) - math.Max(a[0], b[0])
	ih := math.Min(a[3], b[3]) - math.Max(a[1], b[1])
	if iw <= 0 || ih <= 0 {
		return 0
	}
	inter := iw * ih
	union := (a[2]-a[0])*(a[3]-a[1]) + (b[2]-b[0])*(b[3]-b[1]) - inter
	return inter / union
}

// WriteTable prints m as the paper's table.
func (m Metrics) WriteTable(w io.Writer) {
	pct := func(v float64) string { return fmt.Sprintf("%6.2f %%", 100*v) }
	fmt.Fprintf(w, "%-22s %s\n", "images", fmt.Sprint(m.N))
	for k, a := range m.Scale {
		fmt.Fprintf(w, "%-22s %s\n", fmt.Sprintf("scale %d", k+1), pct(a))
	}
	if len(m.Scale) > 1 {
		fmt.Fprintf(w, "%-22s %s\n", "scales 1+2", pct(m.Scales12))
		fmt.Fprintf(w, "%-22s %s\n", fmt.Sprintf("scales %s (fused)", scaleList(len(m.Scale))), pct(m.Fused))
	}
	for k := range m.MeanIoU {
		fmt.Fprintf(w, "%-22s mean IoU %.3f, IoU>=0.5 %s, centre in box %s\n",
			fmt.Sprintf("box -> scale %d", k+2), m.MeanIoU[k], strings.TrimSpace(pct(m.IoU50[k])), strings.TrimSpace(pct(m.Pointing[k])))
		if k < len(m.Holds) {
			fmt.Fprintf(w, "%-22s holds the whole object %s; scale %d's errors with it held %s\n",
				"", strings.TrimSpace(pct(m.Holds[k])), k+2, strings.TrimSpace(pct(m.ErrorsHeld[k])))
		}
	}
}

func scaleList(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprint(i + 1)
	}
	return strings.Join(s, "+")
}

// JSON renders m for --json.
func (m Metrics) JSON() []byte {
	b, _ := json.MarshalIndent(m, "", "  ")
	return b
}

// Summary is a one-line form of m for logs.
func (m Metrics) Summary() string {
	s := ""
	for k, a := range m.Scale {
		s += fmt.Sprintf("s%d %.2f%% ", k+1, 100*a)
	}
	if len(m.Scale) > 1 {
		s += fmt.Sprintf("s1+2 %.2f%% fused %.2f%%", 100*m.Scales12, 100*m.Fused)
	}
	for k := range m.Pointing {
		s += fmt.Sprintf(" | box%d IoU %.2f pointing %.0f%%", k+2, m.MeanIoU[k], 100*m.Pointing[k])
	}
	return s
}

// WriteComparison prints several runs' metrics side by side, one column per run.
func WriteComparison(w io.Writer, names []string, ms []Metrics) {
	width := 12
	for _, n := range names {
		width = max(width, len(filepath.Base(n))+2)
	}
	fmt.Fprintf(w, "%-22s", "")
	for _, n := range names {
		fmt.Fprintf(w, "%*s", width, filepath.Base(n))
	}
	fmt.Fprintln(w)
	row := func(label string, get func(m Metrics) (float64, bool), format string) {
		fmt.Fprintf(w, "%-22s", label)
		for _, m := range ms {
			if v, ok := get(m); ok {
				fmt.Fprintf(w, "%*s", width, fmt.Sprintf(format, v))
			} else {
				fmt.Fprintf(w, "%*s", width, "-")
			}
		}
		fmt.Fprintln(w)
	}
	scales := 0
	for _, m := range ms {
		scales = max(scales, len(m.Scale))
	}
	for k := 0; k < scales; k++ {
		row(fmt.Sprintf("scale %d", k+1), func(m Metrics) (float64, bool) {
			if k < len(m.Scale) {
				return 100 * m.Scale[k], true
			}
			return 0, false
		}, "%.2f %%")
	}
	multi := func(f func(Metrics) float64) func(Metrics) (float64, bool) {
		return func(m Metrics) (float64, bool) { return f(m), len(m.Scale) > 1 }
	}
	row("scales 1+2", multi(func(m Metrics) float64 { return 100 * m.Scales12 }), "%.2f %%")
	row("fused (1+2+3)", multi(func(m Metrics) float64 { return 100 * m.Fused }), "%.2f %%")
	for k := 0; k < scales-1; k++ {
		get := func(f func(Metrics) []float64) func(Metrics) (float64, bool) {
			return func(m Metrics) (float64, bool) {
				if v := f(m); k < len(v) {
					return v[k], true
				}
				return 0, false
			}
		}
		row(fmt.Sprintf("box %d mean IoU", k+2), get(func(m Metrics) []float64 { return m.MeanIoU }), "%.3f")
		percent := func(f func(Metrics) []float64) func(Metrics) []float64 {
			return func(m Metrics) []float64 {
				out := make([]float64, len(f(m)))
				for i, p := range f(m) {
					out[i] = 100 * p
				}
				return out
			}
		}
		row(fmt.Sprintf("box %d centre in obj.", k+2), get(percent(func(m Metrics) []float64 { return m.Pointing })), "%.1f %%")
		row(fmt.Sprintf("box %d holds obj.", k+2), get(percent(func(m Metrics) []float64 { return m.Holds })), "%.1f %%")
		row(fmt.Sprintf("s%d errors, obj. held", k+2), get(percent(func(m Metrics) []float64 { return m.ErrorsHeld })), "%.1f %%")
	}
}
