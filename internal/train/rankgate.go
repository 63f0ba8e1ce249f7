package train

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/racnn/racnn/internal/checkpoint"
	"github.com/racnn/racnn/internal/evaluate"
	"github.com/racnn/racnn/internal/model"
	"github.com/racnn/racnn/internal/torch"
)

// A ranking phase moves the boxes, and the next classification phase trains
// on wherever it left them, so the trainer keeps a ranking phase only when
// validation shows it helped (train.rank_rollback). "Helped" is a paired
// sign test, not a higher mean, since a mean moved by a few images is what
// two runs' noise does. The test compares, image by image, how many zoomed
// scales read it right before and after the phase.
// The images are independent; the scales of one image are not.

// rankGateSection names the gate's section of a checkpoint.
const rankGateSection = "rank_gate"

// rankGate decides whether a ranking phase is kept. It follows every
// validation (observe); at a ranking phase's start it copies the APN
// parameters and the validation record it starts from (begin), and at the
// phase's end it keeps the phase or puts both back (decide). It is saved in
// its own checkpoint section, so a resumed run decides as an uninterrupted
// one would.
type rankGate struct {
	keepP float64 // train.rank_keep_p
	// latest is the last validation of the zoomed scales.
	latest zoomRecord
	// start is what a ranking phase started from, while it may still be
	// rolled back; nil otherwise.
	start *rankStart
}

// zoomRecord is one validation of the zoomed scales (2..): their mean
// accuracy, and per validation image (in the loader's order) how many of
// them read it right.
type zoomRecord struct {
	Acc   float64 `json:"acc"`
	Right []int   `json:"right,omitempty"`
}

// rankStart is a ranking phase's starting point: its validation record and
// copies of the APN parameters (kept tensors, by state_dict name).
type rankStart struct {
	record zoomRecord
	apn    map[string]*torch.Tensor
}

// rankGateDoc is the gate's checkpoint document.
type rankGateDoc struct {
	Latest zoomRecord  `json:"latest"`
	Start  *zoomRecord `json:"start,omitempty"` // the snapshot's tensors are the section's
}

func newRankGate(keepP float64) *rankGate { return &rankGate{keepP: keepP} }

// zoomRight counts, per validation image, how many of the zoomed scales
// read it right (nil for a one-scale model).
func zoomRight(mt evaluate.Metrics) []int {
	if len(mt.Right) < 2 {
		return nil
	}
	right := make([]int, len(mt.Right[0]))
	for i := range right {
		for _, r := range mt.Right[1:] {
			if r[i] {
				right[i]++
			}
		}
	}
	return right
}

// observe records a validation.
func (g *rankGate) observe(mt evaluate.Metrics) {
	g.latest = zoomRecord{Right: zoomRight(mt)}
	for _, a := range mt.Scale[1:] {
		g.latest.Acc += a / float64(len(mt.Scale)-1)
	}
}

// begin starts a ranking phase: it copies m's APN parameters and the latest
// validation record, when there is one to compare the phase's end with.
func (g *rankGate) begin(m *model.RACNN) error {
	g.drop()
	if g.latest.Acc <= 0 {
		return nil
	}
	st := &rankStart{record: g.latest, apn: map[string]*torch.Tensor{}}
	err := torch.Try(func() {
		torch.WithScope(func() {
			for _, g := range m.Groups.APNs() {
				for _, e := range g.Entries() {
					st.apn[e.Name] = e.T.Detach().Clone().Keep()
				}
			}
		})
	})
	if err != nil {
		st.free()
		return err
	}
	g.start = st
	return nil
}

// active reports whether a ranking phase can still be rolled back.
func (g *rankGate) active() bool { return g.start != nil }

// rankDecision is the gate's verdict on a ranking phase.
type rankDecision struct {
	Kept             bool
	StartAcc, EndAcc float64
	SignTest         bool // false: a checkpoint from before rank_keep_p, compared by accuracy
	Mended, Broken   int
	P                float64
}

// decide keeps the phase, or restores m's APNs and the validation record
// the phase started from, and ends the phase's snapshot either way. The
// phase is kept when the images it mended outnumber those it broke beyond
// chance (rankSignTest, p <= train.rank_keep_p); a snapshot without a
// per-image record (an older checkpoint's) keeps it when the accuracy held.
func (g *rankGate) decide(m *model.RACNN) (rankDecision, error) {
	st := g.start
	defer g.drop()
	d := rankDecision{StartAcc: st.record.Acc, EndAcc: g.latest.Acc}
	d.Kept = d.EndAcc >= d.StartAcc
	if st.record.Right != nil {
		var err error
		if d.Mended, d.Broken, d.P, err = rankSignTest(st.record.Right, g.latest.Right); err != nil {
			return d, err
		}
		d.SignTest, d.Kept = true, d.P <= g.keepP
	}
	if d.Kept {
		return d, nil
	}
	err := torch.Try(func() {
		torch.NoGrad(func() {
			for name, v := range st.apn {
				m.Store.Get(name).CopyFrom(v)
			}
		})
	})
	if err != nil {
		return d, err
	}
	g.latest = st.record
	return d, nil
}

// drop ends the current snapshot, if any.
func (g *rankGate) drop() {
	if g.start != nil {
		g.start.free()
		g.start = nil
	}
}

func (s *rankStart) free() {
	for _, v := range s.apn {
		v.Free()
	}
}

// section is the gate as a checkpoint section (its tensors stay the gate's).
func (g *rankGate) section() checkpoint.Section {
	doc := rankGateDoc{Latest: g.latest}
	sec := checkpoint.Section{}
	if g.start != nil {
		doc.Start = &g.start.record
		sec.Tensors = g.start.apn
	}
	sec.Doc, _ = json.Marshal(doc)
	return sec
}

// restore sets the gate to what a checkpoint saved: its section, or in a
// checkpoint written before the gate had one, the State's zoom_* and
// rank_start* fields and the optimiser's "phase_start." tensors. It copies
// the tensors it keeps, and returns the optimiser state without the old
// snapshot's.
func (g *rankGate) restore(ck *checkpoint.Checkpoint) (optim map[string]*torch.Tensor, err error) {
	g.drop()
	var doc rankGateDoc
	snapshot := map[string]*torch.Tensor{}
	optim = ck.Optim
	if sec, ok := ck.Sections[rankGateSection]; ok {
		if err := json.Unmarshal(sec.Doc, &doc); err != nil {
			return nil, fmt.Errorf("checkpoint %s: section %s: %v", ck.Path, rankGateSection, err)
		}
		snapshot = sec.Tensors
	} else {
		var old struct {
			ZoomAcc        float64 `json:"zoom_acc"`
			ZoomRight      string  `json:"zoom_right"`
			RankStart      float64 `json:"rank_start"`
			RankStartRight string  `json:"rank_start_right"`
		}
		if err := json.Unmarshal(ck.State, &old); err != nil {
			return nil, fmt.Errorf("checkpoint %s: bad state: %v", ck.Path, err)
		}
		doc.Latest = zoomRecord{Acc: old.ZoomAcc, Right: digits(old.ZoomRight)}
		optim = map[string]*torch.Tensor{}
		for name, v := range ck.Optim {
			if rest, ok := strings.CutPrefix(name, "phase_start."); ok {
				snapshot[rest] = v
			} else {
				optim[name] = v
			}
		}
		if len(snapshot) > 0 {
			doc.Start = &zoomRecord{Acc: old.RankStart, Right: digits(old.RankStartRight)}
		}
	}
	// A file's numbers are validated, never trusted.
	for _, r := range []*zoomRecord{&doc.Latest, doc.Start} {
		if r != nil && !(r.Acc >= 0 && r.Acc <= 1) {
			return nil, fmt.Errorf("checkpoint %s: rank gate: %g is not an accuracy", ck.Path, r.Acc)
		}
	}
	g.latest = doc.Latest
	if doc.Start == nil {
		return optim, nil
	}
	st := &rankStart{record: *doc.Start, apn: map[string]*torch.Tensor{}}
	err = torch.Try(func() {
		torch.WithScope(func() {
			for name, v := range snapshot {
				st.apn[name] = v.Clone().Keep()
			}
		})
	})
	if err != nil {
		st.free()
		return nil, err
	}
	g.start = st
	return optim, nil
}

// digits reads an older checkpoint's per-image record, one decimal digit
// per image ("" is no record).
func digits(s string) []int {
	if s == "" {
		return nil
	}
	r := make([]int, len(s))
	for i := range s {
		r[i] = int(s[i] - '0')
	}
	return r
}

// rankSignTest counts the images a phase mended (more zoomed scales right
// after it than before) and broke (fewer), and returns the one-sided
// sign-test p-value of "mended at least this many" when mending and breaking
// are equally likely.
func rankSignTest(before, after []int) (mended, broken int, p float64, err error) {
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
