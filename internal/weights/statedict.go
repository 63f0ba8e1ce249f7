package weights

import "iter"

// StateDict maps parameter and buffer names (PyTorch state_dict keys such as
// "features.0.weight") to tensors and keeps the order in which names were
// first set. The zero value is not usable; call NewStateDict.
type StateDict struct {
	keys []string
	m    map[string]*Tensor
}

// NewStateDict returns an empty StateDict.
func NewStateDict() *StateDict {
	return &StateDict{m: make(map[string]*Tensor)}
}

// Set stores t under name. A new name goes last; an existing one keeps its
// position and gets the new tensor.
func (sd *StateDict) Set(name string, t *Tensor) {
	if _, ok := sd.m[name]; !ok {
		sd.keys = append(sd.keys, name)
	}
	sd.m[name] = t
}

// Get returns the tensor stored under name.
func (sd *StateDict) Get(name string) (*Tensor, bool) {
	t, ok := sd.m[name]
	return t, ok
}

// Delete removes name and reports whether it was there.
func (sd *StateDict) Delete(name string) bool {
	if _, ok := sd.m[name]; !ok {
		return false
	}
	delete(sd.m, name)
	for i, k := range sd.keys {
		if k == name {
			sd.keys = append(sd.keys[:i], sd.keys[i+1:]...)
			break
		}
	}
	return true
}

// Len is the number of entries.
func (sd *StateDict) Len() int { return len(sd.keys) }

// Keys returns the names in order (a copy).
func (sd *StateDict) Keys() []string { return append([]string{}, sd.keys...) }

// All iterates over the entries in order.
func (sd *StateDict) All() iter.Seq2[string, *Tensor] {
	return func(yield func(string, *Tensor) bool) {
		for _, k := range sd.keys {
			if !yield(k, sd.m[k]) {
				return
			}
		}
	}
}
