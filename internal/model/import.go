package model

import (
	"fmt"

	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/torch"
	"github.com/racnn/racnn/internal/weights"
)

// ImportTorchvision loads ImageNet weights into the backbone of every
// scale: the same weights start each scale, as in the paper. path is a
// torchvision state dict (the .pth file of
// torch.save(torchvision.models.vgg19(...).state_dict()), zip or legacy
// format) or a safetensors file (timm's model.safetensors for a ResNet);
// the backbone's Arch.Pretrained maps its keys, skips the ImageNet
// classifier and names what does not match, and the model of another
// backbone or depth the file holds. Classifiers, APNs and fusion keep their
// initialisation.
func (m *RACNN) ImportTorchvision(path string) error {
	a, err := m.Cfg.backboneArch()
	if err != nil {
		return err
	}
	sd, _, err := weights.ReadFile(path)
	if err != nil {
		return fmt.Errorf("import ImageNet weights: %w", err)
	}
	feats, err := a.Pretrained(path, sd, m.Cfg)
	if err != nil {
		return err
	}
	err = torch.Try(func() {
		torch.WithScope(func() {
			for name, wt := range feats.All() {
				v, cerr := nn.FromWeights(wt)
				if cerr != nil {
					torch.Fail(fmt.Errorf("%s: %w", name, cerr))
				}
				for _, sg := range m.Groups.Scales {
					dst := sg.Backbone.Get(sg.Name + "." + name)
					if dst == nil {
						torch.Fail(fmt.Errorf("model: the %s backbone has no %s", sg.Name, name))
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
