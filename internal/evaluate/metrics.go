// Package evaluate measures a model on a split as the paper reports it:
// per-scale, scales 1+2 and fused accuracy, and how the attention boxes
// meet the annotated objects. Training, racnn eval and the tests count
// correct predictions with its Right.
package evaluate

import (
	"context"
	"fmt"
	"math"

	"github.com/racnn/racnn/internal/data/loader"
	"github.com/racnn/racnn/internal/model"
	"github.com/racnn/racnn/internal/rundata"
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
	Skipped    int       `json:"skipped,omitempty"` // unreadable images left out (data.on_bad_image skip)
	Loss       float64   `json:"loss"`              // mean cross-entropy of the fused (or only) classifier
	// Right says, per scale and image (in the loader's order), whether
	// that scale read the image right: what a paired comparison of two
	// models on the same split needs (train.rank_keep_p).
	Right [][]bool `json:"-"`
}

// Evaluate runs the model over one epoch of l (no augmentation expected) and
// returns its metrics. It stops early when ctx is cancelled.
func Evaluate(ctx context.Context, m *model.RACNN, l *loader.Loader, progress func(done, total int)) (Metrics, error) {
	t, err := Count(ctx, m, l, progress)
	if err != nil {
		return Metrics{}, err
	}
	return t.Metrics()
}

// Tally is an evaluation's counts before they become Metrics: the ranks of
// a data-parallel run each count their shard and add their Tallies up
// (Values, SetValues), so the metrics equal one process's.
type Tally struct {
	N, WithBox        int
	Correct           []int
	Correct12, FusedC int
	LossSum           float64
	Boxes             []boxTally
	// Index is the data-set index of each image counted, in the loader's
	// order; Right[k][i] says whether scale k read image Index[i] right.
	Index []int
	Right [][]bool
}

// Count runs the model over one epoch of l and counts; see Evaluate.
func Count(ctx context.Context, m *model.RACNN, l *loader.Loader, progress func(done, total int)) (*Tally, error) {
	scales := len(m.Scales)
	t := &Tally{Correct: make([]int, scales), Boxes: make([]boxTally, scales-1), Right: make([][]bool, scales)}
	ep := l.Epoch(ctx, 0)
	defer ep.Close()
	total := l.NumBatches()
	done := 0
	for r := range ep.Batches() {
		if r.Err != nil {
			return nil, r.Err
		}
		b := r.Batch
		if err := ctx.Err(); err != nil { // batches already queued are not evaluated
			b.Release()
			return nil, err
		}
		err := torch.Try(func() {
			s := torch.NewScope()
			defer s.Close()
			torch.NoGrad(func() {
				src, in, labels := rundata.Tensors(b, m.Device())
				out := m.Forward(src, in, false)
				right := make([][]bool, len(out.Logits))
				for k, lg := range out.Logits {
					right[k] = Right(lg, b.Labels)
					t.Right[k] = append(t.Right[k], right[k]...)
					for _, r := range right[k] {
						if r {
							t.Correct[k]++
						}
					}
				}
				final := out.Logits[0]
				if out.Fused != nil {
					final = out.Fused
					t.FusedC += CountRight(out.Fused, b.Labels)
				}
				if out.Fused12 != nil {
					t.Correct12 += CountRight(out.Fused12, b.Labels)
				}
				t.LossSum += torch.CrossEntropy(final, labels, torch.ReduceSum, 0).Item()
				for k, box := range out.Boxes {
					bx := box.Float64s()
					for i := 0; i < b.N; i++ {
						if !b.HasBox[i] {
							continue
						}
						gt := b.Boxes[i]
						t.Boxes[k].add(boxPixels(bx[3*i:3*i+3], b.SourceSize), [4]float64{gt.X, gt.Y, gt.X + gt.W, gt.Y + gt.H}, right[k+1][i])
					}
				}
			})
		})
		if err != nil {
			return nil, err
		}
		for i := 0; i < b.N; i++ {
			if b.HasBox[i] {
				t.WithBox++
			}
		}
		t.N += b.N
		t.Index = append(t.Index, b.Indices[:b.N]...)
		b.Release()
		done++
		if progress != nil {
			progress(done, total)
		}
	}
	if err := ep.Err(); err != nil {
		return nil, err
	}
	return t, nil
}

// Values lists the tally's sums (not Index and Right) in a fixed order, as
// float64s (counts below 2^53 stay exact), for an all-reduce.
func (t *Tally) Values() []float64 {
	v := []float64{float64(t.N), float64(t.WithBox), float64(t.Correct12), float64(t.FusedC), t.LossSum}
	for _, c := range t.Correct {
		v = append(v, float64(c))
	}
	for _, b := range t.Boxes {
		v = append(v, float64(b.n), float64(b.iou50), float64(b.pointing), float64(b.holds), b.iouSum, float64(b.errors), float64(b.errorsHeld))
	}
	return v
}

// SetValues sets the sums from v, in Values' order.
func (t *Tally) SetValues(v []float64) {
	n := func() int { x := int(v[0]); v = v[1:]; return x }
	t.N, t.WithBox, t.Correct12, t.FusedC = n(), n(), n(), n()
	t.LossSum, v = v[0], v[1:]
	for i := range t.Correct {
		t.Correct[i] = n()
	}
	for i := range t.Boxes {
		b := &t.Boxes[i]
		b.n, b.iou50, b.pointing, b.holds = n(), n(), n(), n()
		b.iouSum, v = v[0], v[1:]
		b.errors, b.errorsHeld = n(), n()
	}
}

// Metrics turns the counts into rates.
func (t *Tally) Metrics() (Metrics, error) {
	n, scales := t.N, len(t.Correct)
	if n == 0 {
		return Metrics{}, fmt.Errorf("evaluation: the split has no images")
	}
	mt := Metrics{N: n, WithBox: t.WithBox, Loss: t.LossSum / float64(n), Right: t.Right}
	for _, c := range t.Correct {
		mt.Scale = append(mt.Scale, float64(c)/float64(n))
	}
	mt.Best = mt.Scale[0]
	if scales > 1 {
		mt.Fused = float64(t.FusedC) / float64(n)
		mt.Scales12 = float64(t.Correct12) / float64(n)
		mt.Best = mt.Fused
	}
	if t.WithBox > 0 {
		for _, b := range t.Boxes {
			n := float64(b.n)
			mt.MeanIoU = append(mt.MeanIoU, b.iouSum/n)
			mt.IoU50 = append(mt.IoU50, float64(b.iou50)/n)
			mt.Pointing = append(mt.Pointing, float64(b.pointing)/n)
			mt.Holds = append(mt.Holds, float64(b.holds)/n)
			mt.ErrorsHeld = append(mt.ErrorsHeld, float64(b.errorsHeld)/math.Max(float64(b.errors), 1))
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

// Right reports per sample whether logits' top class is its label: the one
// count of correct predictions.
func Right(logits *torch.Tensor, labels []int64) []bool {
	pred := logits.Argmax(1, false).Int64s()
	r := make([]bool, len(pred))
	for i, p := range pred {
		r[i] = p == labels[i]
	}
	return r
}

// CountRight is how many samples Right finds right.
func CountRight(logits *torch.Tensor, labels []int64) int {
	c := 0
	for _, r := range Right(logits, labels) {
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
