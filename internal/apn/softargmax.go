package apn

import (
	"fmt"

	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/torch"
)

// SoftArgmaxHead is an APN head that scores every feature cell, turns the
// scores into a distribution with a softmax over the cells, and puts the
// box centre at the distribution's mean cell position (a soft argmax); the
// half-side comes from the features averaged under that distribution:
//
//	s_ij = w2 · relu(W1 f_ij + b1) + b2       (1×1 convolutions C → hidden → 1)
//	p    = softmax(s) over the h·w cells
//	c    = Σ p_ij · ((j + 0.5)/w, (i + 0.5)/h)
//	g    = Σ p_ij f_ij,  ĝ = g / ‖g‖
//	t_l  = MinHalf + (MaxHalf − MinHalf)·sigmoid(w_l · ĝ + b_l)
//
// The size reads the pooled feature's direction, not its length: Adam
// moves every weight by about lr per step, so on raw features the logit's
// step grows with the feature's norm and the half-side can stick at a bound
// where the sigmoid's gradient vanishes. Normalised, a step moves the logit
// by at most about lr·√C.
//
// Why: the paper's head regresses the centre from the flattened map with
// fully-connected layers, which must learn a separate weight for every cell
// and reads a position inside a cell only through the channels. This head
// applies the same scoring at every cell (it is a convolution), and the mean
// position falls between cell centres, which matters on coarse maps where
// an object spans about one cell (docs/method.md has the measurements).
//
// With Inside the centre is clamped into the range that keeps the box in
// the image (FromUnit's squeeze would move a centre the heat map put on the
// object). The clamp stops the centre's gradient only where the mean cell
// position lies outside that range, that is, past the edge the box already
// touches; the size keeps its sigmoid. The untrained head proposes the
// centred InitHalf box for any input (w2 and w_l start at N(0, 0.001²), so
// p starts uniform) and its parameters get gradient from the first step.
//
// Parameters: "<prefix>.heat1.weight" [hidden, C], "<prefix>.heat1.bias",
// "<prefix>.heat2.weight" [1, hidden], "<prefix>.heat2.bias",
// "<prefix>.size.weight" [1, C], "<prefix>.size.bias".
type SoftArgmaxHead struct {
	Heat1, Heat2, Size *nn.Linear
	Cfg                Config
	FeatW, FeatH       int64
}

// NewSoftArgmaxHead registers a soft-argmax head under prefix for features of
// featC channels and featH×featW cells. It panics if cfg is invalid.
func NewSoftArgmaxHead(s *nn.Store, prefix string, featC, featH, featW, hidden int64, cfg Config) *SoftArgmaxHead {
	if err := cfg.Validate(); err != nil {
		panic(fmt.Sprintf("apn.NewSoftArgmaxHead: %v", err))
	}
	ul := ToUnit([3]float64{0.5, 0.5, cfg.initHalf()}, float64(featW), float64(featH), cfg)[2]
	sizeBias := func([]int64) *torch.Tensor { return torch.FromSlice([]float32{float32(logit(ul))}, 1) }
	return &SoftArgmaxHead{
		Heat1: nn.NewLinear(s, prefix+".heat1", featC, hidden, true, nil, nil),
		Heat2: nn.NewLinear(s, prefix+".heat2", hidden, 1, true, nn.Normal(1e-3), nn.Zeros),
		Size:  nn.NewLinear(s, prefix+".size", featC, 1, true, nn.Normal(1e-3), sizeBias),
		Cfg:   cfg,
		FeatW: featW,
		FeatH: featH,
	}
}

// Forward returns the proposed boxes [N, 3] for feat [N, C, h, w], in
// float32. Under autocast only the per-cell scores (the 1×1 convolutions)
// run in low precision; the softmax over the cells, the mean position, the
// pooled feature and its normalisation, and the size are float32: they are
// box coordinates (see Crop).
func (h *SoftArgmaxHead) Forward(feat *torch.Tensor) (box *torch.Tensor) {
	sh := feat.Shape()
	if len(sh) != 4 || sh[2] != h.FeatH || sh[3] != h.FeatW {
		torch.Fail(fmt.Errorf("apn.SoftArgmaxHead: features %v; want [N, C, %d, %d]", sh, h.FeatH, h.FeatW))
	}
	n, c, cells := sh[0], sh[1], h.FeatH*h.FeatW
	x := feat.Permute(0, 2, 3, 1).Reshape(n, cells, c) // no copy for channels-last features
	s := h.Heat2.Forward(h.Heat1.Forward(x).Relu())
	torch.WithoutAutocast(func() {
		x := x.Widen()
		p := s.Widen().Reshape(n, cells).Softmax(1)
		// The mean position: p against the cell centres ((j + 0.5)/w,
		// (i + 0.5)/h), row-major [h·w, 2], made on the features' device as
		// apn.Crop makes its sampling grid. One [N, h·w] x [h·w, 2] product:
		// summing the row and column marginals first gives the same value
		// rounded another way, and so another training trajectory than the
		// one existing runs were trained with.
		opts := []torch.Option{torch.WithDType(x.DType()), torch.OnDevice(feat.Device())}
		cx := torch.Arange(0, float64(h.FeatW), 1, opts...).AddScalar(0.5).DivScalar(float64(h.FeatW))
		cy := torch.Arange(0, float64(h.FeatH), 1, opts...).AddScalar(0.5).DivScalar(float64(h.FeatH))
		grid := torch.Stack([]*torch.Tensor{
			cx.Unsqueeze(0).Expand(h.FeatH, h.FeatW), cy.Unsqueeze(1).Expand(h.FeatH, h.FeatW),
		}, 2).Reshape(cells, 2)
		centre := p.Matmul(grid) // [N, 2]
		tx, ty := centre.Narrow(1, 0, 1), centre.Narrow(1, 1, 1)
		pooled := p.Unsqueeze(1).Matmul(x).Squeeze(1) // [N, C]
		tl := h.Size.Forward(torch.Normalize(pooled, 2, 1, 1e-12)).Sigmoid().MulScalar(h.Cfg.MaxHalf - h.Cfg.MinHalf).AddScalar(h.Cfg.MinHalf)
		if h.Cfg.Inside {
			tx, ty = clampInside(tx, ty, tl, float64(h.FeatW), float64(h.FeatH))
		}
		box = torch.Cat([]*torch.Tensor{tx, ty, tl}, 1)
	})
	return box
}

// SetConfig implements Proposer.
func (h *SoftArgmaxHead) SetConfig(c Config) { h.Cfg = c }
