package model

import (
	"fmt"

	"github.com/racnn/racnn/internal/torch"
)

// Head is one classifier's scores, named as the evaluation table shows it.
type Head struct {
	Name   string        // "scale1", "scale2", "scale3", "scale1+2", "fused"
	Logits *torch.Tensor // [N, classes]
}

// Heads lists every classifier of an output in table order: each scale,
// then "scale1+2" (the paper's two-scale row: the fusion12 classifier with
// three scales, the main fusion with two), then "fused" (all scales; the
// paper's "1+2+3" with three scales). With one scale only "scale1".
func (o *Output) Heads() []Head {
	var h []Head
	for i, l := range o.Logits {
		h = append(h, Head{Name: fmt.Sprintf("scale%d", i+1), Logits: l})
	}
	switch {
	case len(o.Logits) == 2 && o.Fused != nil:
		h = append(h, Head{Name: "scale1+2", Logits: o.Fused})
	case len(o.Logits) == 3:
		if o.Fused12 != nil {
			h = append(h, Head{Name: "scale1+2", Logits: o.Fused12})
		}
		if o.Fused != nil {
			h = append(h, Head{Name: "fused", Logits: o.Fused})
		}
	}
	return h
}

// ClassifierLogits are the scores the classification phase puts a softmax
// loss on: every scale, the fusion classifier and, when present, fusion12.
func (o *Output) ClassifierLogits() []*torch.Tensor {
	l := append([]*torch.Tensor(nil), o.Logits...)
	if o.Fused != nil {
		l = append(l, o.Fused)
	}
	if o.Fused12 != nil {
		l = append(l, o.Fused12)
	}
	return l
}

// MeanSoftmax averages the softmax of the given logits (an untrained
// alternative to a fusion classifier, e.g. of scales 1 and 2).
func MeanSoftmax(logits ...*torch.Tensor) *torch.Tensor {
	var sum *torch.Tensor
	for _, l := range logits {
		p := l.Softmax(1)
		if sum == nil {
			sum = p
		} else {
			sum = sum.Add(p)
		}
	}
	return sum.DivScalar(float64(len(logits)))
}

// Tally counts correct top-1 predictions per head over an evaluation.
type Tally struct {
	Names   []string
	Correct []int
	Total   int
}

// Add counts one batch: labels are the true classes of its samples.
func (t *Tally) Add(o *Output, labels []int64) {
	heads := o.Heads()
	if t.Names == nil {
		for _, h := range heads {
			t.Names = append(t.Names, h.Name)
		}
		t.Correct = make([]int, len(heads))
	}
	for i, h := range heads {
		t.Correct[i] += Correct(h.Logits, labels)
	}
	t.Total += len(labels)
}

// Accuracy returns each head's accuracy in [0, 1], in Names' order.
func (t *Tally) Accuracy() []float64 {
	a := make([]float64, len(t.Correct))
	for i, c := range t.Correct {
		if t.Total > 0 {
			a[i] = float64(c) / float64(t.Total)
		}
	}
	return a
}

// Of returns the named head's accuracy and whether the tally has it.
func (t *Tally) Of(name string) (float64, bool) {
	for i, n := range t.Names {
		if n == name {
			return t.Accuracy()[i], true
		}
	}
	return 0, false
}

// Correct counts the rows of logits whose arg-max is the label.
func Correct(logits *torch.Tensor, labels []int64) int {
	pred := logits.Argmax(1, false).Int64s()
	if len(pred) != len(labels) {
		panic(&torch.Error{Msg: fmt.Sprintf("model: %d predictions for %d labels", len(pred), len(labels))})
	}
	n := 0
	for i, p := range pred {
		if p == labels[i] {
			n++
		}
	}
	return n
}
