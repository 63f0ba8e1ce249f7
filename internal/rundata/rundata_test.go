package rundata

import (
	"testing"

	"github.com/racnn/racnn/internal/data"
)

func TestHoldOutIsStratifiedAndDisjoint(t *testing.T) {
	ds := &data.Dataset{Classes: []string{"a", "b", "c"}}
	for i := 0; i < 90; i++ {
		ds.Items = append(ds.Items, data.Item{Path: string(rune('A'+i%26)) + string(rune('0'+i)), Label: i % 3})
	}
	tr, va := holdOut(ds, 0.2, 7)
	if len(tr.Items)+len(va.Items) != 90 || len(va.Items) != 18 {
		t.Fatalf("split %d + %d", len(tr.Items), len(va.Items))
	}
	per := map[int]int{}
	seen := map[string]bool{}
	for _, it := range va.Items {
		per[it.Label]++
		seen[it.Path] = true
	}
	for c := 0; c < 3; c++ {
		if per[c] != 6 {
			t.Errorf("class %d has %d validation items, want 6", c, per[c])
		}
	}
	for _, it := range tr.Items {
		if seen[it.Path] {
			t.Fatalf("%s in both splits", it.Path)
		}
	}
	// The same seed gives the same split.
	_, va2 := holdOut(ds, 0.2, 7)
	for i := range va.Items {
		if va.Items[i].Path != va2.Items[i].Path {
			t.Fatal("hold-out is not deterministic")
		}
	}
}
