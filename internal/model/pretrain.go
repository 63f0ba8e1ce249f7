package model

import (
	"github.com/racnn/racnn/internal/apn"
	"github.com/racnn/racnn/internal/torch"
)

// PretrainTargets returns the pre-training target of every APN for a
// forward pass out of source (the paper's APN pre-training): for APN k, the
// square of tg.Half around the peak of scale k's last conv response
// (out.Maps[k]), relative to scale k's input. With refine, each square is
// then re-centred on the peak of scale k+1's response to the zoom the
// square itself would cut (apn.Recentre): the finer scale sees the object
// at a higher resolution, so its peak places the centre more precisely
// than the coarse map's cells can. The zoom is cut from source as the
// forward pass cuts it, and scale k+1's backbone runs with its running
// batch-norm statistics. Call it on the pass of a frozen-backbone phase;
// the targets carry no gradient.
//
// The refining backbone passes run in the model's precision; the targets
// are float32 (box coordinates, see apn.Crop).
func (m *RACNN) PretrainTargets(source *torch.Tensor, out *Output, tg apn.Target, refine bool) []*torch.Tensor {
	targets := make([]*torch.Tensor, len(out.Maps))
	torch.NoGrad(func() {
		m.autocast(func() {
			for k, f := range out.Maps {
				coarse := apn.PretrainTargets(f.Detach(), tg, m.Cfg.APN)
				targets[k] = coarse
				if !refine {
					continue
				}
				// The square on the source: scale 1's input is the whole source,
				// scale k > 1's input the crop at out.Boxes[k-1].
				srcW, srcH := source.Size(3), source.Size(2)
				onSource := coarse
				if k > 0 {
					onSource = apn.Compose(out.Boxes[k-1].Detach(), coarse, srcW, srcH)
				}
				next := m.Scales[k+1]
				x := apn.Crop(source, onSource, next.InputSize, next.InputSize, m.Cfg.APN)
				if m.Cfg.ChannelsLast {
					x = x.ChannelsLast()
				}
				fine := apn.PretrainTargets(next.Backbone.Forward(x, false), tg, m.Cfg.APN)
				// Back onto scale k's input: the whole source for k = 0, else a
				// square crop.
				w, h := srcW, srcH
				if k > 0 {
					w, h = m.Scales[k].InputSize, m.Scales[k].InputSize
				}
				fw, fh := f.Size(3), f.Size(2)
				targets[k] = apn.Recentre(coarse, apn.Compose(coarse, fine, w, h), float64(fw), float64(fh), m.Cfg.APN)
			}
		})
	})
	return targets
}
