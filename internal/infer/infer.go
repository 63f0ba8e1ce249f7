// Package infer runs a trained RA-CNN on image files: top-k classes per
// scale and fused, the attention boxes in the image's own pixels, and the
// zoomed crops for pictures.
package infer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/racnn/racnn/internal/checkpoint"
	"github.com/racnn/racnn/internal/config"
	"github.com/racnn/racnn/internal/data"
	"github.com/racnn/racnn/internal/data/transform"
	"github.com/racnn/racnn/internal/model"
	"github.com/racnn/racnn/internal/torch"
)

// Class is one ranked class.
type Class struct {
	Index int     `json:"index"`
	Name  string  `json:"name"`
	Prob  float64 `json:"prob"`
}

// Head is the top-k of one classifier.
type Head struct {
	Name string  `json:"name"` // "scale 1", "scale 2", "scale 3", "fused"
	TopK []Class `json:"topk"`
}

// Prediction is the result for one image.
type Prediction struct {
	Path   string `json:"path"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Heads  []Head `json:"heads"`
	// Boxes are the attention boxes that made the inputs of scales 2, 3, as
	// x1, y1, x2, y2 in the image file's pixels (after EXIF orientation).
	Boxes [][4]float64 `json:"boxes"`
	// Image is the decoded image and Crops the zoomed inputs of scales 2, 3
	// (for pictures; not in JSON).
	Image *data.Image   `json:"-"`
	Crops []*data.Image `json:"-"`
}

// Predictor holds a loaded model. Use it from one goroutine, inside
// torch.OnThread.
type Predictor struct {
	Config  config.Config
	Classes []string
	m       *model.RACNN
	p       *transform.Pipeline
}

// Load reads a checkpoint (a run's best.safetensors or any checkpoint) onto
// device dev, to predict in the run's precision.
func Load(path string, dev torch.Device) (*Predictor, error) { return LoadAs(path, dev, "") }

// LoadAs is Load predicting in precision (fp32, bf16, fp16; empty: the
// run's runtime.precision).
func LoadAs(path string, dev torch.Device, precision string) (*Predictor, error) {
	m, ck, err := checkpoint.LoadModelAs(path, dev, precision)
	if err != nil {
		return nil, err
	}
	c := ck.Config
	norm := transform.Norm{}
	for i := 0; i < 3; i++ {
		norm.Mean[i], norm.Std[i] = float32(c.Data.Mean[i]), float32(c.Data.Std[i])
	}
	p, err := transform.New(transform.Config{Resize: c.Data.ResizeSize, SourceSize: c.Data.SourceSize, InputSize: c.Model.InputSizes[0], Norm: norm})
	if err != nil {
		m.Free()
		return nil, err
	}
	return &Predictor{Config: c, Classes: ck.Classes, m: m, p: p}, nil
}

// Free releases the model.
func (pr *Predictor) Free() { pr.m.Free() }

// Predict classifies one image file.
func (pr *Predictor) Predict(path string, topk int) (*Prediction, error) {
	img, err := data.DecodeFile(path)
	if err != nil {
		return nil, err
	}
	c := pr.Config
	S, S1 := c.Data.SourceSize, c.Model.InputSizes[0]
	src := make([]float32, 3*S*S)
	in := src
	if S1 != S {
		in = make([]float32, 3*S1*S1)
	}
	rng := rand.New(rand.NewPCG(1, 2)) // eval mode draws nothing; Apply wants a generator
	if _, err := pr.p.Apply(img, img.W, img.H, nil, rng, src, in); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	view := pr.p.Plan(img.W, img.H, rng)
	pred := &Prediction{Path: path, Width: img.W, Height: img.H, Image: img}
	err = torch.Try(func() {
		s := torch.NewScope()
		defer s.Close()
		torch.NoGrad(func() {
			dev := pr.m.Device()
			st := torch.FromSlice(src, 1, 3, int64(S), int64(S)).To(dev)
			it := st
			if S1 != S {
				it = torch.FromSlice(in, 1, 3, int64(S1), int64(S1)).To(dev)
			}
			out := pr.m.Forward(st, it, false)
			for k, l := range out.Logits {
				pred.Heads = append(pred.Heads, Head{Name: fmt.Sprintf("scale %d", k+1), TopK: pr.top(l, topk)})
			}
			if out.Fused != nil {
				pred.Heads = append(pred.Heads, Head{Name: "fused", TopK: pr.top(out.Fused, topk)})
			}
			for _, b := range out.Boxes {
				v := b.Float64s()
				x1, y1 := (v[0]-v[2])*float64(S), (v[1]-v[2])*float64(S)
				x2, y2 := (v[0]+v[2])*float64(S), (v[1]+v[2])*float64(S)
				sx, sy := view.WinW/float64(view.W), view.WinH/float64(view.H)
				pred.Boxes = append(pred.Boxes, [4]float64{view.X0 + x1*sx, view.Y0 + y1*sy, view.X0 + x2*sx, view.Y0 + y2*sy})
			}
			for _, cr := range out.Crops {
				pred.Crops = append(pred.Crops, toImage(cr, c.Data.Mean, c.Data.Std))
			}
		})
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return pred, nil
}

func (pr *Predictor) top(logits *torch.Tensor, k int) []Class {
	p := logits.Softmax(1).Float64s()
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] > p[idx[b]] })
	if k > len(idx) {
		k = len(idx)
	}
	out := make([]Class, k)
	for i := 0; i < k; i++ {
		name := fmt.Sprint(idx[i])
		if idx[i] < len(pr.Classes) {
			name = pr.Classes[idx[i]]
		}
		out[i] = Class{Index: idx[i], Name: name, Prob: p[idx[i]]}
	}
	return out
}

// toImage turns a normalised [1, 3, H, W] tensor back into 8-bit RGB.
func toImage(t *torch.Tensor, mean, std []float64) *data.Image {
	sh := t.Shape()
	h, w := int(sh[2]), int(sh[3])
	v := t.Float32s()
	img := &data.Image{W: w, H: h, Pix: make([]uint8, w*h*3)}
	for c := 0; c < 3; c++ {
		for i := 0; i < h*w; i++ {
			x := (float64(v[c*h*w+i])*std[c] + mean[c]) * 255
			img.Pix[i*3+c] = uint8(math.Max(0, math.Min(255, math.Round(x))))
		}
	}
	return img
}
