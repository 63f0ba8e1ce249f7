package transform

import (
	"fmt"
	"math/rand/v2"

	"github.com/racnn/racnn/internal/data"
)

// Config configures a Pipeline.
type Config struct {
	// Resize is the length the image's shorter side is scaled to before the
	// square crop; 0 means SourceSize (crop the largest centred square).
	Resize int
	// SourceSize is the side of the square source image the model crops its
	// attention regions from (S_src), e.g. 448, or 128 for cluttered MNIST.
	SourceSize int
	// InputSize is the side of the scale-1 input (S_1), e.g. 448, or 48 for
	// cluttered MNIST; 0 means SourceSize.
	InputSize int
	// Train selects a random crop and a random horizontal flip; otherwise
	// the crop is centred and never flipped.
	Train bool
	// FlipProb is the probability of the horizontal flip in train mode;
	// nil means 0.5. Set it to a pointer to 0 to disable flipping.
	FlipProb *float64
	// Norm is the colour normalisation; the zero value means ImageNetNorm().
	Norm Norm
}

// Pipeline turns a decoded image (and its box) into one training sample:
//
//  1. scale the shorter side to Resize (bilinear, antialiased; see the
//     package comment),
//  2. crop a SourceSize square: random in train mode, centred in eval mode,
//  3. in train mode mirror it with probability FlipProb,
//  4. render the square at SourceSize (Sample.Source) and, from the same
//     window of the decoded image, at InputSize (Sample.Input), both as
//     normalised float32 CHW.
//
// The input is rendered from the decoded image, not from the rendered
// source, so it is resampled once; geometrically it is exactly the source
// downsized to InputSize. When InputSize == SourceSize the two are the same
// tensor and Apply fills only the source (see Apply).
//
// A Pipeline is immutable and safe for concurrent use; all randomness comes
// from the *rand.Rand passed to each call, in a fixed order (crop x, crop y,
// flip), so a sample is a pure function of the image and the generator's
// state.
type Pipeline struct {
	cfg  Config
	flip float64
}

// New validates cfg and returns its Pipeline.
func New(cfg Config) (*Pipeline, error) {
	if cfg.SourceSize <= 0 {
		return nil, fmt.Errorf("transform: source size must be positive, got %d", cfg.SourceSize)
	}
	if cfg.Resize == 0 {
		cfg.Resize = cfg.SourceSize
	}
	if cfg.InputSize == 0 {
		cfg.InputSize = cfg.SourceSize
	}
	if cfg.Resize < 0 || cfg.InputSize < 0 {
		return nil, fmt.Errorf("transform: sizes must be positive (resize %d, input %d)", cfg.Resize, cfg.InputSize)
	}
	if cfg.Norm == (Norm{}) {
		cfg.Norm = ImageNetNorm()
	}
	for c, s := range cfg.Norm.Std {
		if !(s > 0) {
			return nil, fmt.Errorf("transform: std[%d] must be positive, got %g", c, s)
		}
	}
	p := &Pipeline{cfg: cfg, flip: 0.5}
	if cfg.FlipProb != nil {
		p.flip = *cfg.FlipProb
		if p.flip < 0 || p.flip > 1 {
			return nil, fmt.Errorf("transform: flip probability must be in [0, 1], got %g", p.flip)
		}
	}
	return p, nil
}

// Config returns the resolved configuration (defaults filled in).
func (p *Pipeline) Config() Config { return p.cfg }

// SourceLen is the number of floats of one source tensor (3·S_src²).
func (p *Pipeline) SourceLen() int { return 3 * p.cfg.SourceSize * p.cfg.SourceSize }

// InputLen is the number of floats of one scale-1 input tensor (3·S_1²).
func (p *Pipeline) InputLen() int { return 3 * p.cfg.InputSize * p.cfg.InputSize }

// SharedInput reports whether the scale-1 input is the source itself
// (InputSize == SourceSize).
func (p *Pipeline) SharedInput() bool { return p.cfg.InputSize == p.cfg.SourceSize }

// MinShorterSide is the smallest shorter side a decoder may reduce an image
// to (for example by JPEG DCT scaling) without losing detail the pipeline
// keeps: the Resize length.
func (p *Pipeline) MinShorterSide() int { return p.cfg.Resize }

// Plan draws the geometry of one sample of a w×h image: the view that
// renders its source tensor. rng is used in train mode only.
func (p *Pipeline) Plan(w, h int, rng *rand.Rand) View {
	s := p.cfg.SourceSize
	v := NewView(w, h).ResizeShorter(p.cfg.Resize)
	if p.cfg.Train {
		v = v.RandomCrop(s, s, rng)
		if p.flip > 0 && rng.Float64() < p.flip {
			v = v.HFlip()
		}
	} else {
		v = v.CenterCrop(s, s)
	}
	return v
}

// Apply renders one sample of img into src (len SourceLen) and, unless
// SharedInput, into in (len InputLen; ignored and may be nil when shared).
// box, when not nil, is in img's pixels; the returned box is the same object
// in source-tensor pixels, clipped to it (nil when box is nil).
//
// img may be a reduced decode of the original image (JPEG DCT scaling):
// then origW×origH is the original size the box refers to and the crop is
// planned on, so the sample's geometry does not depend on the decoder's
// reduction. Pass origW, origH = img.W, img.H otherwise.
func (p *Pipeline) Apply(img *data.Image, origW, origH int, box *data.Box, rng *rand.Rand, src, in []float32) (*data.Box, error) {
	if img == nil || img.W <= 0 || img.H <= 0 {
		return nil, fmt.Errorf("transform: empty image")
	}
	if origW <= 0 || origH <= 0 {
		origW, origH = img.W, img.H
	}
	v := p.Plan(origW, origH, rng)
	var out *data.Box
	if box != nil {
		b := v.MapBox(*box)
		out = &b
	}
	if origW != img.W || origH != img.H {
		v = v.Scaled(img.W, img.H)
	}
	if err := v.Render(img, p.cfg.Norm, src); err != nil {
		return nil, err
	}
	if !p.SharedInput() {
		s1 := p.cfg.InputSize
		if err := v.Resize(s1, s1).Render(img, p.cfg.Norm, in); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Sample is one transformed example.
type Sample struct {
	Source []float32 // 3×S_src×S_src, normalised CHW
	Input  []float32 // 3×S_1×S_1, normalised CHW; the same slice as Source when the sizes are equal
	Label  int
	Box    *data.Box // object box in source-tensor pixels; nil when the item has none
}

// Sample is the allocating convenience form of Apply for one image.
func (p *Pipeline) Sample(img *data.Image, label int, box *data.Box, rng *rand.Rand) (Sample, error) {
	s := Sample{Label: label, Source: make([]float32, p.SourceLen())}
	if p.SharedInput() {
		s.Input = s.Source
	} else {
		s.Input = make([]float32, p.InputLen())
	}
	b, err := p.Apply(img, img.W, img.H, box, rng, s.Source, s.Input)
	if err != nil {
		return Sample{}, err
	}
	s.Box = b
	return s, nil
}
