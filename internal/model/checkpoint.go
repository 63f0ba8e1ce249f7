package model

import (
	"encoding/json"
	"fmt"

	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/torch"
	"github.com/racnn/racnn/internal/weights"
)

// Checkpoint metadata keys (safetensors __metadata__).
const (
	MetaFormat = "racnn.format" // FormatV1
	MetaConfig = "racnn.model"  // the model Config as JSON
	FormatV1   = "racnn-model/1"
)

// Save writes every parameter and buffer of the model as a safetensors file
// at path (atomically: a crash leaves the old file), with the model config in
// the metadata.
func (m *RACNN) Save(path string) error { return m.SaveWithMeta(path, nil) }

// SaveWithMeta is Save with extra metadata entries (e.g. the training config).
func (m *RACNN) SaveWithMeta(path string, extra map[string]string) error {
	cfgJSON, err := json.Marshal(m.Cfg)
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	meta := map[string]string{}
	for k, v := range extra {
		meta[k] = v
	}
	meta[MetaFormat] = FormatV1
	meta[MetaConfig] = string(cfgJSON)
	sd := weights.NewStateDict()
	err = torch.Try(func() {
		for _, e := range m.Store.Entries() {
			t, cerr := nn.ToWeights(e.T)
			if cerr != nil {
				panic(&torch.Error{Msg: fmt.Sprintf("%s: %v", e.Name, cerr)})
			}
			sd.Set(e.Name, t)
		}
	})
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return weights.WriteFileAtomic(path, sd, meta)
}

// ReadConfig returns the model config stored in a racnn checkpoint.
func ReadConfig(path string) (Config, error) {
	_, cfg, err := readCheckpoint(path)
	return cfg, err
}

func readCheckpoint(path string) (*weights.StateDict, Config, error) {
	sd, meta, err := weights.ReadFile(path)
	if err != nil {
		return nil, Config{}, err
	}
	raw, ok := meta[MetaConfig]
	if !ok {
		return nil, Config{}, fmt.Errorf("%s: no racnn model config in its metadata: not a checkpoint written by racnn (torchvision .pth files are imported as pre-trained backbone weights instead)", path)
	}
	if f := meta[MetaFormat]; f != FormatV1 {
		return nil, Config{}, fmt.Errorf("%s: checkpoint format %q; this racnn reads %q", path, f, FormatV1)
	}
	var cfg Config
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		return nil, Config{}, fmt.Errorf("%s: model config in the metadata: %w", path, err)
	}
	return sd, cfg, nil
}

// LoadFile builds the model a racnn checkpoint was written for and loads its
// weights. The APN crop settings come from the checkpoint; change m.Cfg.APN
// afterwards to evaluate with others.
func LoadFile(path string, device torch.Device) (*RACNN, error) {
	sd, cfg, err := readCheckpoint(path)
	if err != nil {
		return nil, err
	}
	m, err := New(cfg, device)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := m.loadState(path, sd); err != nil {
		m.Free()
		return nil, err
	}
	return m, nil
}

// Load copies a racnn checkpoint's weights into m. The checkpoint must have
// been written for the same architecture (see Config).
func (m *RACNN) Load(path string) error {
	sd, cfg, err := readCheckpoint(path)
	if err != nil {
		return err
	}
	if was, has := archDiff(cfg, m.Cfg); was != "" {
		return fmt.Errorf("checkpoint %s was written for %s; this config has %s", path, was, has)
	}
	return m.loadState(path, sd)
}

func (m *RACNN) loadState(path string, sd *weights.StateDict) error {
	var err error
	torch.WithScope(func() {
		vals := map[string]*torch.Tensor{}
		err = torch.Try(func() {
			for name, t := range sd.All() {
				v, cerr := nn.FromWeights(t)
				if cerr != nil {
					panic(&torch.Error{Msg: fmt.Sprintf("%s: %v", name, cerr)})
				}
				vals[name] = v
			}
		})
		if err == nil {
			err = m.Store.Load(vals, true)
		}
	})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

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
