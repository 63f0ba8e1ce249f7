package data

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// OpenCUB reads a split of CUB-200-2011. root is the CUB_200_2011 folder,
// which holds
//
//	images/<class>/<file>.jpg
//	images.txt              <image id> <path under images/>
//	image_class_labels.txt  <image id> <class id, 1-based>
//	train_test_split.txt    <image id> <1: train, 0: test>
//	classes.txt             <class id> <name>, e.g. "1 001.Black_footed_Albatross"
//	bounding_boxes.txt      <image id> <x> <y> <width> <height> (optional)
//
// or its parent (the folder the archive was unpacked in). Items come in
// images.txt order; labels are the class ids minus one; class names are
// those of classes.txt, kept verbatim ("001.Black_footed_Albatross").
// bounding_boxes.txt holds floats in pixels, top-left corner and size; they
// are taken as given, in the Box convention (0-based top-left corner), which
// is how the CUB tools and the usual crops (img[y:y+h, x:x+w]) read them.
func OpenCUB(root, split string) (*Dataset, error) {
	const kind = "cub"
	const fix = "point data.root at the CUB_200_2011 folder (the one holding images.txt and images/)"
	if err := checkSplit(kind, split, "train", "test"); err != nil {
		return nil, err
	}
	abs, err := absRoot(kind, root, fix)
	if err != nil {
		return nil, err
	}
	dir := abs
	if firstExisting(filepath.Join(dir, "images.txt")) == "" {
		sub := filepath.Join(abs, "CUB_200_2011")
		if firstExisting(filepath.Join(sub, "images.txt")) == "" {
			return nil, fmt.Errorf("%s: %s: no such file (nor CUB_200_2011/images.txt) — %s", kind, filepath.Join(abs, "images.txt"), fix)
		}
		dir = sub
	}
	file := func(name string) string { return filepath.Join(dir, name) }

	// classes.txt
	classLines, err := readLines(kind, file("classes.txt"), fix)
	if err != nil {
		return nil, err
	}
	classes := make([]string, len(classLines))
	for i, l := range classLines {
		id, err := strconv.Atoi(l.fields[0])
		if err != nil || len(l.fields) < 2 {
			return nil, lineError(kind, file("classes.txt"), l.n, "want \"<class id> <name>\", got %q", l.text)
		}
		if id != i+1 {
			return nil, lineError(kind, file("classes.txt"), l.n, "class id %d, want %d (ids must run 1, 2, 3, … in order)", id, i+1)
		}
		classes[i] = strings.TrimSpace(strings.TrimPrefix(l.text, l.fields[0]))
	}
	if len(classes) == 0 {
		return nil, fmt.Errorf("%s: %s: no classes", kind, file("classes.txt"))
	}

	// images.txt
	imgLines, err := readLines(kind, file("images.txt"), fix)
	if err != nil {
		return nil, err
	}
	type rec struct {
		path  string
		label int
		train int
		box   *Box
	}
	recs := make(map[int]*rec, len(imgLines))
	order := make([]int, 0, len(imgLines))
	for _, l := range imgLines {
		id, err := strconv.Atoi(l.fields[0])
		if err != nil || len(l.fields) < 2 {
			return nil, lineError(kind, file("images.txt"), l.n, "want \"<image id> <path>\", got %q", l.text)
		}
		if recs[id] != nil {
			return nil, lineError(kind, file("images.txt"), l.n, "image id %d listed twice", id)
		}
		recs[id] = &rec{path: strings.TrimSpace(strings.TrimPrefix(l.text, l.fields[0])), label: -1, train: -1}
		order = append(order, id)
	}

	// intPairs reads "<image id> <int>" lines into set.
	intPairs := func(name string, set func(r *rec, v int) error) error {
		lines, err := readLines(kind, file(name), fix)
		if err != nil {
			return err
		}
		for _, l := range lines {
			if len(l.fields) != 2 {
				return lineError(kind, file(name), l.n, "want \"<image id> <value>\", got %q", l.text)
			}
			id, err1 := strconv.Atoi(l.fields[0])
			v, err2 := strconv.Atoi(l.fields[1])
			if err1 != nil || err2 != nil {
				return lineError(kind, file(name), l.n, "want two integers, got %q", l.text)
			}
			r := recs[id]
			if r == nil {
				return lineError(kind, file(name), l.n, "image id %d is not in images.txt", id)
			}
			if err := set(r, v); err != nil {
				return lineError(kind, file(name), l.n, "%v", err)
			}
		}
		return nil
	}
	if err := intPairs("image_class_labels.txt", func(r *rec, v int) error {
		if v < 1 || v > len(classes) {
			return fmt.Errorf("class %d outside 1…%d (classes.txt)", v, len(classes))
		}
		r.label = v - 1
		return nil
	}); err != nil {
		return nil, err
	}
	if err := intPairs("train_test_split.txt", func(r *rec, v int) error {
		if v != 0 && v != 1 {
			return fmt.Errorf("is_training_image %d, want 0 or 1", v)
		}
		r.train = v
		return nil
	}); err != nil {
		return nil, err
	}

	// bounding_boxes.txt (optional)
	if bb := file("bounding_boxes.txt"); firstExisting(bb) != "" {
		lines, err := readLines(kind, bb, "")
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			if len(l.fields) != 5 {
				return nil, lineError(kind, bb, l.n, "want \"<image id> <x> <y> <width> <height>\", got %q", l.text)
			}
			id, err := strconv.Atoi(l.fields[0])
			if err != nil {
				return nil, lineError(kind, bb, l.n, "bad image id %q", l.fields[0])
			}
			var v [4]float64
			for k := range v {
				if v[k], err = strconv.ParseFloat(l.fields[k+1], 64); err != nil {
					return nil, lineError(kind, bb, l.n, "bad number %q", l.fields[k+1])
				}
			}
			r := recs[id]
			if r == nil {
				return nil, lineError(kind, bb, l.n, "image id %d is not in images.txt", id)
			}
			if v[2] <= 0 || v[3] <= 0 {
				return nil, lineError(kind, bb, l.n, "box of size %gx%g", v[2], v[3])
			}
			r.box = &Box{X: v[0], Y: v[1], W: v[2], H: v[3]}
		}
	}

	ds := &Dataset{Name: kind, Split: split, Root: dir, Classes: classes}
	wantTrain := 0
	if split == "train" {
		wantTrain = 1
	}
	for _, id := range order {
		r := recs[id]
		if r.label < 0 {
			return nil, fmt.Errorf("%s: %s: image id %d (%s) has no class", kind, file("image_class_labels.txt"), id, r.path)
		}
		if r.train < 0 {
			return nil, fmt.Errorf("%s: %s: image id %d (%s) is in neither split", kind, file("train_test_split.txt"), id, r.path)
		}
		if r.train != wantTrain {
			continue
		}
		ds.Items = append(ds.Items, Item{
			Path:  filepath.Join(dir, "images", filepath.FromSlash(r.path)),
			Label: r.label,
			Box:   r.box,
		})
	}
	return ds, nil
}
