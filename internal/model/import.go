package model

import (
	"fmt"

	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/torch"
	"github.com/racnn/racnn/internal/weights"
)

// ImportTorchvision loads a torchvision VGG state dict (the .pth file of
// torch.save(torchvision.models.vgg19(...).state_dict()), or a safetensors
// file with the same keys) into the backbone of every scale: the same
// ImageNet weights start each scale, as in the paper. The file's
// classifier.* entries (ImageNet's 1000-way head) are skipped; any other
// entry the backbone lacks, a missing one or one of another shape is an
// error naming it and the file (weights.ImportVGG), which also names the
// VGG a mismatching file holds. Classifiers, APNs and fusion keep their
// initialisation.
func (m *RACNN) ImportTorchvision(path string) error {
	if !m.Cfg.IsVGG() {
		return fmt.Errorf("%s: backbone %s has no torchvision counterpart; import torchvision weights into a vgg16, vgg19, vgg16_bn or vgg19_bn model", path, m.Cfg.Backbone)
	}
	sd, _, err := weights.ReadFile(path)
	if err != nil {
		return fmt.Errorf("import torchvision weights: %w", err)
	}
	feats, err := weights.ImportVGG(path, sd, m.Cfg.Backbone)
	if err != nil {
		return err
	}
	err = torch.Try(func() {
		torch.WithScope(func() {
			for name, wt := range feats.All() {
				v, cerr := nn.FromWeights(wt)
				if cerr != nil {
					panic(&torch.Error{Msg: fmt.Sprintf("%s: %v", name, cerr)})
				}
				for s := range m.Scales {
					dst := m.Store.Get(ScalePrefix(s+1) + name)
					if dst == nil {
						panic(&torch.Error{Msg: fmt.Sprintf("model has no %s", ScalePrefix(s+1)+name)})
					}
					dst.CopyFrom(v)
				}
				v.Free()
			}
		})
	})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
