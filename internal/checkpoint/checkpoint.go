// Package checkpoint is racnn's checkpoint file: one safetensors file with
// the model's tensors under "model.", the optimiser's under "optim.", and in
// its metadata the trainer's schedule position (a JSON document the trainer
// defines), the resolved config (YAML) and the class names. Named sections
// carry what else a part of the trainer must restore (the ranking gate):
// their tensors under "NAME.", their document under "racnn.section.NAME". It also knows a
// run directory's checkpoints: their names, pruning, and the newest one
// that can be read.
package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/racnn/racnn/internal/config"
	"github.com/racnn/racnn/internal/nn"
	"github.com/racnn/racnn/internal/torch"
	"github.com/racnn/racnn/internal/weights"
)

const (
	// Format is the value of the racnn.format metadata key.
	Format      = "racnn-checkpoint-1"
	metaFormat  = "racnn.format"
	metaState   = "racnn.state"
	metaConfig  = "racnn.config"
	metaClasses = "racnn.classes"
	metaSection = "racnn.section."
)

// Checkpoint is a checkpoint's contents.
type Checkpoint struct {
	Path string // where it was read from (Load)
	// State is the trainer's position in its schedule, a JSON document this
	// package stores without reading it.
	State   json.RawMessage
	Config  config.Config
	Classes []string
	Model   map[string]*torch.Tensor // kept tensors after Load: Free them when done
	Optim   map[string]*torch.Tensor // nil or empty: no optimiser state (best.safetensors)
	// Sections are the named extras, each owned by the part that wrote it.
	Sections map[string]Section
}

// Section is one named part of a checkpoint: a JSON document and tensors,
// both defined by the part of the trainer that owns it.
type Section struct {
	Doc     json.RawMessage
	Tensors map[string]*torch.Tensor
}

// validSection reports whether name can name a section: lower-case letters
// and underscores, and not one of the fixed prefixes.
func validSection(name string) bool {
	if name == "" || name == "model" || name == "optim" {
		return false
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && r != '_' {
			return false
		}
	}
	return true
}

// Free releases the checkpoint's tensors.
func (c *Checkpoint) Free() {
	for _, m := range []map[string]*torch.Tensor{c.Model, c.Optim} {
		for _, t := range m {
			t.Free()
		}
	}
	for _, sec := range c.Sections {
		for _, t := range sec.Tensors {
			t.Free()
		}
	}
	c.Model, c.Optim, c.Sections = nil, nil, nil
}

// Save writes c's tensors, state, config and classes to path atomically: a
// temporary file, fsynced and renamed, so a crash never leaves a
// half-written checkpoint.
func Save(path string, c *Checkpoint) error {
	sd := weights.NewStateDict()
	add := func(prefix string, m map[string]*torch.Tensor) error {
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			var w *weights.Tensor
			var err error
			if terr := torch.Try(func() { w, err = nn.ToWeights(m[n]) }); terr != nil {
				return terr
			}
			if err != nil {
				return fmt.Errorf("%s%s: %w", prefix, n, err)
			}
			sd.Set(prefix+n, w)
		}
		return nil
	}
	if err := add("model.", c.Model); err != nil {
		return err
	}
	if err := add("optim.", c.Optim); err != nil {
		return err
	}
	cy, err := c.Config.YAML()
	if err != nil {
		return err
	}
	cj, _ := json.Marshal(c.Classes)
	meta := map[string]string{metaFormat: Format, metaState: string(c.State), metaConfig: string(cy), metaClasses: string(cj)}
	for name, sec := range c.Sections {
		if !validSection(name) {
			return fmt.Errorf("checkpoint %s: section name %q: want lower-case letters and underscores, not model or optim", path, name)
		}
		if !json.Valid(sec.Doc) {
			return fmt.Errorf("checkpoint %s: section %s: its document is not JSON", path, name)
		}
		if err := add(name+".", sec.Tensors); err != nil {
			return err
		}
		meta[metaSection+name] = string(sec.Doc)
	}
	if err := weights.WriteFileAtomic(path, sd, meta); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return nil
}

// Load reads a checkpoint written by Save. Its tensors are kept CPU tensors.
func Load(path string) (*Checkpoint, error) {
	sd, meta, err := weights.ReadSafetensorsFile(path)
	if err != nil {
		return nil, fileError(path, err)
	}
	c := &Checkpoint{Path: path, Model: map[string]*torch.Tensor{}, Optim: map[string]*torch.Tensor{}, Sections: map[string]Section{}}
	if c.State, c.Config, c.Classes, err = parseMeta(path, meta); err != nil {
		return nil, err
	}
	for k, doc := range meta {
		if name, ok := strings.CutPrefix(k, metaSection); ok && validSection(name) {
			if !json.Valid([]byte(doc)) {
				return nil, fmt.Errorf("checkpoint %s: section %s: its document is not JSON", path, name)
			}
			c.Sections[name] = Section{Doc: json.RawMessage(doc), Tensors: map[string]*torch.Tensor{}}
		}
	}
	for name, w := range sd.All() {
		var t *torch.Tensor
		var cerr error
		if terr := torch.Try(func() { t, cerr = nn.FromWeights(w) }); terr != nil {
			cerr = terr
		}
		if cerr != nil {
			c.Free()
			return nil, fmt.Errorf("checkpoint %s: %s: %v", path, name, cerr)
		}
		t.Keep()
		switch {
		case strings.HasPrefix(name, "model."):
			c.Model[strings.TrimPrefix(name, "model.")] = t
		case strings.HasPrefix(name, "optim."):
			c.Optim[strings.TrimPrefix(name, "optim.")] = t
		default:
			sec, rest, _ := strings.Cut(name, ".")
			if s, ok := c.Sections[sec]; ok {
				s.Tensors[rest] = t
			} else {
				t.Free()
			}
		}
	}
	return c, nil
}

// Info is what a checkpoint's header says, read without its tensors.
type Info struct {
	Path     string
	State    json.RawMessage
	Config   config.Config
	Classes  []string
	HasOptim bool // it holds optimiser state (best.safetensors does not)
}

// ReadInfo reads a checkpoint's header and checks that the file holds the
// tensor bytes the header describes (a truncated file fails here), without
// reading the tensors.
func ReadInfo(path string) (Info, error) {
	names, meta, err := weights.CheckSafetensorsFile(path)
	if err != nil {
		return Info{}, fileError(path, err)
	}
	in := Info{Path: path}
	if in.State, in.Config, in.Classes, err = parseMeta(path, meta); err != nil {
		return Info{}, err
	}
	in.HasOptim = slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "optim.") })
	return in, nil
}

// fileError names the checkpoint in a read error.
func fileError(path string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("checkpoint %s: no such file", path)
	}
	return err
}

// parseMeta reads a checkpoint's state, config and classes from its
// safetensors metadata.
func parseMeta(path string, meta map[string]string) (st json.RawMessage, c config.Config, classes []string, err error) {
	if meta[metaFormat] != Format {
		return nil, c, nil, fmt.Errorf("checkpoint %s: not a racnn checkpoint (format %q, want %q)", path, meta[metaFormat], Format)
	}
	if !json.Valid([]byte(meta[metaState])) {
		return nil, c, nil, fmt.Errorf("checkpoint %s: bad state: not JSON", path)
	}
	st = json.RawMessage(meta[metaState])
	if c, err = config.FromYAML([]byte(meta[metaConfig])); err != nil {
		return nil, c, nil, fmt.Errorf("checkpoint %s: its config: %v", path, err)
	}
	if err := json.Unmarshal([]byte(meta[metaClasses]), &classes); err != nil {
		return nil, c, nil, fmt.Errorf("checkpoint %s: bad class list: %v", path, err)
	}
	if n := len(classes); n == 0 || n > config.MaxCount {
		return nil, c, nil, fmt.Errorf("checkpoint %s: bad class list: %d classes", path, n)
	}
	return st, c, classes, nil
}
