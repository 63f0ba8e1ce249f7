// Package loss holds RA-CNN's training losses: the per-scale classification
// loss and the inter-scale ranking loss, which compares softmax
// probabilities of the true class (not logits: a margin on logits has no
// fixed meaning, since logits shift freely).
package loss

import "github.com/racnn/racnn/internal/torch"

// DefaultMargin is the released rank layer's margin.
const DefaultMargin = 0.05

// CrossEntropy is the mean over the batch of −log softmax(logits)[label];
// logits [N, classes], labels int64 [N].
func CrossEntropy(logits, labels *torch.Tensor) *torch.Tensor {
	return torch.CrossEntropy(logits, labels, torch.ReduceMean, 0)
}

// TrueClassProb returns p_t = softmax(logits)[label] per sample, [N].
func TrueClassProb(logits, labels *torch.Tensor) *torch.Tensor {
	return logits.Softmax(1).Gather(1, labels.Unsqueeze(1)).Squeeze(1)
}

// Rank is the inter-scale ranking loss, the mean over the batch of
//
//	max(0, p_t(coarse) − p_t(fine) + margin)
//
// where p_t is the softmax probability of the true class at the coarser and
// the finer scale: it is zero once the finer scale is more confident by at
// least margin. Gradients reach both scales' logits.
func Rank(coarse, fine, labels *torch.Tensor, margin float64) *torch.Tensor {
	return TrueClassProb(coarse, labels).Sub(TrueClassProb(fine, labels)).AddScalar(margin).Relu().Mean()
}
