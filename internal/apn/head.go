package apn

import (
	"fmt"
	"math"

	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/torch"
)

// Head kinds (Config.Head).
const (
	// HeadFC is the paper's APN: two stacked fully-connected layers on the
	// flattened (2×2 max-pooled) features (Head).
	HeadFC = "fc"
	// HeadSoftArgmax reads the box centre off a heat map over the feature
	// cells (SoftArgmaxHead).
	HeadSoftArgmax = "softargmax"
)

// Proposer is an APN head: it maps a scale's last conv features [N, C, h, w]
// to boxes [N, 3] relative to that scale's input.
type Proposer interface {
	Forward(feat *torch.Tensor) *torch.Tensor
	// SetConfig changes the box and crop settings (not the head kind or
	// pool, which shape the weights).
	SetConfig(c Config)
}

// NewProposer registers the head cfg.Head names under prefix (see NewHead
// and NewSoftArgmaxHead). It panics if cfg is invalid.
func NewProposer(s *nn.Store, prefix string, featC, featH, featW, hidden int64, cfg Config) Proposer {
	if cfg.HeadKind() == HeadSoftArgmax {
		return NewSoftArgmaxHead(s, prefix, featC, featH, featW, hidden, cfg)
	}
	return NewHead(s, prefix, featC, featH, featW, hidden, cfg)
}

// Head is the attention proposal network of one scale, as in the authors'
// released model: features [N, C, h, w] → 2×2 max-pool (Cfg.Pool) → flatten → FC hidden
// → tanh → FC 3 → sigmoid → FromUnit. Parameters: "<prefix>.fc1.weight",
// "<prefix>.fc1.bias", "<prefix>.fc2.weight", "<prefix>.fc2.bias".
type Head struct {
	FC1, FC2 *nn.Linear
	Cfg      Config
	// FeatW and FeatH are the feature map's width and height. Their ratio is
	// taken as the aspect of the image the boxes refer to (Inside keeps a
	// box inside an image of that aspect). For a square feature map on a
	// non-square source the boxes stay inside the source too, only the
	// centre's range along the longer side is narrower than it could be.
	FeatW, FeatH int64
}

// NewHead registers a head under prefix for features of featC channels and
// featH×featW cells. FC1 gets PyTorch's default Linear init. FC2 gets small
// weights, N(0, 0.001²), and the bias that makes the untrained head propose
// the centred box of half-side cfg.InitHalf for any input, with the
// tanh→FC2 path still carrying gradient to FC1 from the first step. It
// panics if cfg is invalid (configs are validated where they are read).
func NewHead(s *nn.Store, prefix string, featC, featH, featW int64, hidden int64, cfg Config) *Head {
	if err := cfg.Validate(); err != nil {
		panic(fmt.Sprintf("apn.NewHead: %v", err))
	}
	p := cfg.PoolSize()
	ph, pw := featH/p, featW/p
	if ph < 1 || pw < 1 {
		panic(fmt.Sprintf("apn.NewHead: %d×%d features are too small for the %d×%d max-pool", featH, featW, p, p))
	}
	in := featC * ph * pw
	u := ToUnit([3]float64{0.5, 0.5, cfg.initHalf()}, float64(featW), float64(featH), cfg)
	bias := func([]int64) *torch.Tensor {
		return torch.FromSlice([]float32{float32(logit(u[0])), float32(logit(u[1])), float32(logit(u[2]))}, 3)
	}
	return &Head{
		FC1:   nn.NewLinear(s, prefix+".fc1", in, hidden, true, nil, nil),
		FC2:   nn.NewLinear(s, prefix+".fc2", hidden, 3, true, nn.Normal(1e-3), bias),
		Cfg:   cfg,
		FeatW: featW,
		FeatH: featH,
	}
}

// logit is the inverse sigmoid, with u kept in [0.01, 0.99] so an initial
// box at a range limit does not start in the sigmoid's flat tail.
func logit(u float64) float64 {
	u = math.Min(math.Max(u, 0.01), 0.99)
	return math.Log(u / (1 - u))
}

// Unit returns the head's sigmoids u [N, 3] for feat [N, C, h, w], in
// float32. Under autocast only FC1 (nearly all of the head's work) runs in
// low precision: FC2's three outputs become box coordinates, computed in
// float32 from tanh's activations (see Crop).
func (h *Head) Unit(feat *torch.Tensor) (u *torch.Tensor) {
	x := feat
	if p := h.Cfg.PoolSize(); p > 1 {
		x = torch.MaxPool2d(feat, [2]int64{p, p}, [2]int64{p, p}, [2]int64{0, 0}, false)
	}
	a := h.FC1.Forward(x.Flatten(1, -1)).Tanh()
	torch.WithoutAutocast(func() { u = h.FC2.Forward(a.Widen()).Sigmoid() })
	return u
}

// Forward returns the proposed boxes [N, 3] for feat [N, C, h, w], in
// float32 whatever feat's dtype.
func (h *Head) Forward(feat *torch.Tensor) *torch.Tensor {
	return FromUnit(h.Unit(feat), float64(h.FeatW), float64(h.FeatH), h.Cfg)
}

// SetConfig implements Proposer.
func (h *Head) SetConfig(c Config) { h.Cfg = c }
