package nn

import (
	"fmt"
	"slices"
	"strings"

	"github.com/racnn/racnn/internal/torch"
)

// Group is one module's entries in a Store (a backbone, a classifier, an
// APN), registered when the module is built: what training selects, trains
// and freezes as a whole, as a torch param_group or a gotch VarStore
// sub-path is. Its entries keep their state_dict names, each the group's
// Name, a dot, and the module's own name.
type Group struct {
	Name    string
	store   *Store
	entries []*Entry
}

// Group makes every entry that build registers in s a member of a new group
// called name, and returns it. Groups do not nest, and each name build
// registers must start with name + ".", so a group is one sub-tree of the
// state_dict and the groups of a store never share an entry.
func (s *Store) Group(name string, build func()) *Group {
	if s.open != nil {
		panic(fmt.Sprintf("nn: group %q opened inside group %q", name, s.open.Name))
	}
	g := &Group{Name: name, store: s}
	s.open = g
	defer func() { s.open = nil }()
	build()
	return g
}

// join adds e to the group being built, if any.
func (g *Group) join(e *Entry) {
	if g == nil {
		return
	}
	e.group = g
	g.entries = append(g.entries, e)
}

// Entries returns the group's entries in registration order.
func (g *Group) Entries() []*Entry { return g.entries }

// Get returns the tensor registered under name (a full state_dict name) if
// it belongs to g, or nil.
func (g *Group) Get(name string) *torch.Tensor {
	if e := g.store.byName[name]; e != nil && e.group == g {
		return e.T
	}
	return nil
}

// CopyFrom copies every tensor of src into g's counterpart in place: g and
// src must be the same module built twice, the same names after their
// groups' names and the same shapes. Nothing is copied unless all match.
// Ops panic with *torch.Error (wrap the call in torch.Try).
func (g *Group) CopyFrom(src *Group) error {
	if len(g.entries) != len(src.entries) {
		return fmt.Errorf("%s has %d tensors and %s %d; they are not the same module", src.Name, len(src.entries), g.Name, len(g.entries))
	}
	for i, e := range src.entries {
		d := g.entries[i]
		if own := strings.TrimPrefix(e.Name, src.Name); own != strings.TrimPrefix(d.Name, g.Name) {
			return fmt.Errorf("%s has no counterpart in %s", e.Name, g.Name)
		}
		if !slices.Equal(e.T.Shape(), d.T.Shape()) {
			return fmt.Errorf("%s has shape %v and %s %v", e.Name, e.T.Shape(), d.Name, d.T.Shape())
		}
	}
	for i, e := range src.entries {
		g.entries[i].T.CopyFrom(e.T)
	}
	return nil
}

// Ungrouped names the entries of s that belong to no group, in registration
// order: a module built outside a group, which no phase would train.
func (s *Store) Ungrouped() []string {
	var out []string
	for _, e := range s.entries {
		if e.group == nil {
			out = append(out, e.Name)
		}
	}
	return out
}
