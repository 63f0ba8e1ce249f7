package evaluate

import (
	"math"
	"testing"
)

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
