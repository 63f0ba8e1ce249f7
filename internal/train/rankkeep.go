package train

import (
	"fmt"
	"math"
	"strings"

	"github.com/racnn/racnn/internal/evaluate"
)

// A ranking phase moves the boxes, and the next classification phase trains
// on wherever it left them, so the trainer keeps a ranking phase only when
// validation shows it helped (train.rank_rollback). "Helped" is a paired
// sign test, not a higher mean, since a mean moved by a few images is what
// two runs' noise does. The test compares, image by image, how many zoomed
// scales read it right before and after the phase.
// The images are independent; the scales of one image are not.

// zoomRight encodes, per validation image, how many of the zoomed scales
// (2..) read it right: one decimal digit per image, in the loader's order.
// It lives in the checkpoint's State so a resumed run can still decide.
func zoomRight(mt evaluate.Metrics) string {
	if len(mt.Right) < 2 {
		return ""
	}
	var b strings.Builder
	for i := range mt.Right[0] {
		n := 0
		for _, r := range mt.Right[1:] {
			if r[i] {
				n++
			}
		}
		b.WriteByte(byte('0' + n))
	}
	return b.String()
}

// rankSignTest counts the images a phase mended (more zoomed scales right
// after it than before) and broke (fewer), and returns the one-sided
// sign-test p-value of "mended at least this many" when mending and breaking
// are equally likely.
func rankSignTest(before, after string) (mended, broken int, p float64, err error) {
	if len(before) != len(after) {
		return 0, 0, 1, fmt.Errorf("rank_keep_p: %d validation images before the ranking phase, %d after", len(before), len(after))
	}
	for i := range before {
		switch {
		case after[i] > before[i]:
			mended++
		case after[i] < before[i]:
			broken++
		}
	}
	return mended, broken, binomialTail(mended+broken, mended), nil
}

// binomialTail is P(X >= k) for X ~ Binomial(n, 1/2).
func binomialTail(n, k int) float64 {
	if k <= 0 {
		return 1
	}
	if k > n {
		return 0
	}
	lgN, _ := math.Lgamma(float64(n + 1))
	sum := 0.0
	for j := k; j <= n; j++ {
		lj, _ := math.Lgamma(float64(j + 1))
		lr, _ := math.Lgamma(float64(n - j + 1))
		sum += math.Exp(lgN - lj - lr - float64(n)*math.Ln2)
	}
	return math.Min(sum, 1)
}
