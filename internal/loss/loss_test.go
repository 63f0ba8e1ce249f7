package loss

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"testing"

	"github.com/racnn/racnn/internal/torch"
)

func t64(v []float64, shape ...int64) *torch.Tensor { return torch.FromSlice(v, shape...) }

func softmaxRow(x []float64) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, v)
	}
	s := 0.0
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = math.Exp(v - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

// rankRef is the rank loss in plain Go, on probabilities.
func rankRef(coarse, fine []float64, labels []int64, classes int, margin float64) (loss float64, hinge []float64) {
	n := len(labels)
	hinge = make([]float64, n)
	for i := 0; i < n; i++ {
		pc := softmaxRow(coarse[i*classes : (i+1)*classes])[labels[i]]
		pf := softmaxRow(fine[i*classes : (i+1)*classes])[labels[i]]
		hinge[i] = pc - pf + margin
		loss += math.Max(0, hinge[i])
	}
	return loss / float64(n), hinge
}

func centralDiff(f func([]float64) float64, x []float64, eps float64) []float64 {
	out := make([]float64, len(x))
	xs := append([]float64(nil), x...)
	for i := range x {
		var fp, fm float64
		xs[i] = x[i] + eps
		torch.WithScope(func() { fp = f(xs) })
		xs[i] = x[i] - eps
		torch.WithScope(func() { fm = f(xs) })
		xs[i] = x[i]
		out[i] = (fp - fm) / (2 * eps)
	}
	return out
}

func compare(name string, a, n []float64, rtol, atol float64) error {
	for i := range a {
		if !(math.Abs(a[i]-n[i]) <= atol+rtol*math.Max(math.Abs(a[i]), math.Abs(n[i]))) {
			return fmt.Errorf("%s: entry %d: analytic %.10g vs numeric %.10g", name, i, a[i], n[i])
		}
	}
	return nil
}

type rankProblem struct {
	coarse, fine []float64
	labels       []int64
	n, classes   int
}

func newRankProblem(seed int64) rankProblem {
	rng := rand.New(rand.NewSource(seed))
	p := rankProblem{n: 8, classes: 5}
	for i := 0; i < p.n*p.classes; i++ {
		p.coarse = append(p.coarse, 2*rng.NormFloat64())
		p.fine = append(p.fine, 2*rng.NormFloat64())
	}
	for i := 0; i < p.n; i++ {
		p.labels = append(p.labels, int64(rng.Intn(p.classes)))
	}
	return p
}

func (p rankProblem) loss(coarse, fine []float64) float64 {
	return Rank(t64(coarse, int64(p.n), int64(p.classes)), t64(fine, int64(p.n), int64(p.classes)),
		torch.FromSlice(p.labels, int64(p.n)), DefaultMargin).Item()
}

// Rank's value matches the plain-Go formula on probabilities, and its
// gradients with respect to both scales' logits match central differences.
// The data has active and inactive hinges, none near the kink.
func TestRankValueAndGrad(t *testing.T) {
	p := newRankProblem(1)
	want, hinge := rankRef(p.coarse, p.fine, p.labels, p.classes, DefaultMargin)
	active := 0
	for _, h := range hinge {
		if math.Abs(h) < 1e-3 {
			t.Fatalf("hinge %v too close to the kink for a finite-difference check", h)
		}
		if h > 0 {
			active++
		}
	}
	if active == 0 || active == p.n {
		t.Fatalf("%d of %d hinges active: the data should have both kinds", active, p.n)
	}
	var got float64
	var gC, gF []float64
	torch.WithScope(func() {
		c := t64(p.coarse, int64(p.n), int64(p.classes)).SetRequiresGrad(true)
		f := t64(p.fine, int64(p.n), int64(p.classes)).SetRequiresGrad(true)
		l := Rank(c, f, torch.FromSlice(p.labels, int64(p.n)), DefaultMargin)
		got = l.Item()
		l.Backward()
		gC, gF = c.Grad().Float64s(), f.Grad().Float64s()
	})
	if math.Abs(got-want) > 1e-12 {
		t.Fatalf("Rank = %v, want %v", got, want)
	}
	numC := centralDiff(func(x []float64) float64 { return p.loss(x, p.fine) }, p.coarse, 1e-6)
	numF := centralDiff(func(x []float64) float64 { return p.loss(p.coarse, x) }, p.fine, 1e-6)
	if err := compare("dRank/dcoarse", gC, numC, 1e-6, 1e-9); err != nil {
		t.Error(err)
	}
	if err := compare("dRank/dfine", gF, numF, 1e-6, 1e-9); err != nil {
		t.Error(err)
	}
	// The checker rejects a wrong gradient (the rank loss on logits instead
	// of probabilities, the ports' mistake, has a different one).
	wrong := make([]float64, len(gC))
	for i := 0; i < p.n; i++ {
		if hinge[i] > 0 {
			wrong[i*p.classes+int(p.labels[i])] = 1 / float64(p.n)
		}
	}
	if compare("logit-rank gradient", wrong, numC, 1e-6, 1e-9) == nil {
		t.Fatal("the checker accepted the gradient of a rank loss on logits")
	}
}

// Probabilities, not logits: a finer scale whose true-class logit is
// higher but whose probability is lower is still penalised.
func TestRankUsesProbabilities(t *testing.T) {
	torch.WithScope(func() {
		labels := torch.FromSlice([]int64{0}, 1)
		coarse := t64([]float64{1, 0, 0}, 1, 3) // p_t = e/(e+2) = 0.576
		fine := t64([]float64{3, 3.5, 0}, 1, 3) // logit higher, p_t = 0.37
		if v := Rank(coarse, fine, labels, 0).Item(); v < 0.2 {
			t.Fatalf("Rank = %v: a finer scale with a higher logit but lower probability went unpunished", v)
		}
		// Confident enough finer scale: zero loss, zero gradient.
		fine2 := t64([]float64{5, 0, 0}, 1, 3).SetRequiresGrad(true)
		l := Rank(coarse, fine2, labels, DefaultMargin)
		l.Backward()
		if l.Item() != 0 {
			t.Fatalf("Rank = %v, want 0", l.Item())
		}
		for _, g := range fine2.Grad().Float64s() {
			if g != 0 {
				t.Fatalf("inactive hinge has gradient %v", g)
			}
		}
	})
}

func TestTrueClassProbAndCrossEntropy(t *testing.T) {
	p := newRankProblem(2)
	torch.WithScope(func() {
		logits := t64(p.coarse, int64(p.n), int64(p.classes))
		labels := torch.FromSlice(p.labels, int64(p.n))
		probs := TrueClassProb(logits, labels).Float64s()
		if len(probs) != p.n {
			t.Fatalf("%d probabilities for %d samples", len(probs), p.n)
		}
		ce := 0.0
		for i := 0; i < p.n; i++ {
			want := softmaxRow(p.coarse[i*p.classes : (i+1)*p.classes])[p.labels[i]]
			if math.Abs(probs[i]-want) > 1e-12 {
				t.Fatalf("p_t[%d] = %v, want %v", i, probs[i], want)
			}
			ce -= math.Log(want)
		}
		if got := CrossEntropy(logits, labels).Item(); math.Abs(got-ce/float64(p.n)) > 1e-12 {
			t.Fatalf("CrossEntropy = %v, want %v", got, ce/float64(p.n))
		}
	})
}

// Golden test against PyTorch 1.13: testdata/golden_rank.json is written by
// scripts/golden_apn.py from
//
//	pc = F.softmax(coarse, 1).gather(1, labels[:, None])[:, 0]
//	pf = F.softmax(fine, 1).gather(1, labels[:, None])[:, 0]
//	loss = torch.clamp(pc - pf + margin, min=0).mean()
//
// and F.cross_entropy(coarse, labels).
func TestRankGoldenPyTorch(t *testing.T) {
	raw, err := os.ReadFile("testdata/golden_rank.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		N, Classes   int64
		Margin       float64
		Coarse, Fine []float64
		Labels       []int64
		Rank         float64
		GradCoarse   []float64 `json:"grad_coarse"`
		GradFine     []float64 `json:"grad_fine"`
		PCoarse      []float64 `json:"p_coarse"`
		CE           float64   `json:"ce"`
		GradCE       []float64 `json:"grad_ce"`
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	torch.WithScope(func() {
		c := t64(fx.Coarse, fx.N, fx.Classes).SetRequiresGrad(true)
		f := t64(fx.Fine, fx.N, fx.Classes).SetRequiresGrad(true)
		labels := torch.FromSlice(fx.Labels, fx.N)
		l := Rank(c, f, labels, fx.Margin)
		l.Backward()
		if err := compare("rank", []float64{l.Item()}, []float64{fx.Rank}, 1e-5, 1e-5); err != nil {
			t.Error(err)
		}
		if err := compare("rank grad coarse", c.Grad().Float64s(), fx.GradCoarse, 1e-5, 1e-5); err != nil {
			t.Error(err)
		}
		if err := compare("rank grad fine", f.Grad().Float64s(), fx.GradFine, 1e-5, 1e-5); err != nil {
			t.Error(err)
		}
		if err := compare("p_t", TrueClassProb(c, labels).Float64s(), fx.PCoarse, 1e-5, 1e-5); err != nil {
			t.Error(err)
		}
		c2 := t64(fx.Coarse, fx.N, fx.Classes).SetRequiresGrad(true)
		ce := CrossEntropy(c2, labels)
		ce.Backward()
		if err := compare("ce", []float64{ce.Item()}, []float64{fx.CE}, 1e-5, 1e-5); err != nil {
			t.Error(err)
		}
		if err := compare("ce grad", c2.Grad().Float64s(), fx.GradCE, 1e-5, 1e-5); err != nil {
			t.Error(err)
		}
	})
	nonzero := 0
	for _, g := range fx.GradFine {
		if g != 0 {
			nonzero++
		}
	}
	if nonzero == 0 {
		t.Fatal("the fixture has no active hinge")
	}
}
