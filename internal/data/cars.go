package data

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/racnn/racnn/internal/data/matv5"
)

// OpenCars reads a split of Stanford Cars. root holds
//
//	cars_train/<fname>, cars_test/<fname>    (or cars_train/cars_train/…, as some archives unpack)
//	devkit/cars_train_annos.mat              (or in root)
//	cars_test_annos_withlabels.mat           (or in devkit/; the devkit's own
//	                                          cars_test_annos.mat has no labels)
//	devkit/cars_meta.mat                     (or in root)
//
// The annotation files (MATLAB v5) hold a struct array "annotations" with
// fields bbox_x1, bbox_y1, bbox_x2, bbox_y2, class (1-based) and fname;
// cars_meta.mat holds class_names, a 1×196 cell of strings whose order is
// the label order.
//
// Boxes: bbox_x1 … bbox_y2 are 1-based inclusive pixel coordinates (MATLAB
// convention: a box over a whole W×H image is x1=1, y1=1, x2=W, y2=H). In
// the Box convention that is {x1-1, y1-1, x2-x1+1, y2-y1+1}.
func OpenCars(root, split string) (*Dataset, error) {
	const kind = "cars"
	const fix = "point data.root at the Stanford Cars folder (the one holding cars_train/, cars_test/ and devkit/)"
	if err := checkSplit(kind, split, "train", "test"); err != nil {
		return nil, err
	}
	abs, err := absRoot(kind, root, fix)
	if err != nil {
		return nil, err
	}
	in := func(name string) []string {
		return []string{filepath.Join(abs, "devkit", name), filepath.Join(abs, name)}
	}
	var annoPath string
	if split == "train" {
		if annoPath = firstExisting(in("cars_train_annos.mat")...); annoPath == "" {
			return nil, fmt.Errorf("%s: %s: no such file (nor in %s) — %s", kind, in("cars_train_annos.mat")[0], abs, fix)
		}
	} else {
		cands := []string{filepath.Join(abs, "cars_test_annos_withlabels.mat"), filepath.Join(abs, "devkit", "cars_test_annos_withlabels.mat")}
		if annoPath = firstExisting(cands...); annoPath == "" {
			return nil, fmt.Errorf("%s: %s: no such file (nor in devkit/) — the test labels are in cars_test_annos_withlabels.mat, published apart from the devkit (whose cars_test_annos.mat has no labels); put it in %s",
				kind, cands[0], abs)
		}
	}
	metaPath := firstExisting(in("cars_meta.mat")...)
	if metaPath == "" {
		return nil, fmt.Errorf("%s: %s: no such file (nor in %s) — %s", kind, in("cars_meta.mat")[0], abs, fix)
	}

	meta, err := matv5.ReadFile(metaPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	classes, err := cellOfStrings(meta, "class_names")
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", kind, metaPath, err)
	}
	if len(classes) == 0 {
		return nil, fmt.Errorf("%s: %s: class_names is empty", kind, metaPath)
	}

	af, err := matv5.ReadFile(annoPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	a := af.Var("annotations")
	if a == nil || a.Class != matv5.Struct {
		return nil, fmt.Errorf("%s: %s: no struct array \"annotations\"", kind, annoPath)
	}
	for _, f := range []string{"bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "fname"} {
		if a.Field(0, f) == nil && a.Len() > 0 {
			extra := ""
			if f == "class" {
				extra = " (a test annotation file without labels? use cars_test_annos_withlabels.mat)"
			}
			return nil, fmt.Errorf("%s: %s: annotations have no field %q%s", kind, annoPath, f, extra)
		}
	}

	imgDir := filepath.Join(abs, "cars_"+split)
	if nested := filepath.Join(imgDir, "cars_"+split); isDir(nested) {
		imgDir = nested
	}
	if !isDir(imgDir) {
		return nil, fmt.Errorf("%s: %s: no such folder — %s", kind, imgDir, fix)
	}

	ds := &Dataset{Name: kind, Split: split, Root: abs, Classes: classes, Items: make([]Item, a.Len())}
	for i := range ds.Items {
		var v [5]float64
		for k, f := range []string{"bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class"} {
			if v[k], err = a.Field(i, f).Scalar(); err != nil {
				return nil, fmt.Errorf("%s: %s: annotations(%d).%s: %w", kind, annoPath, i+1, f, err)
			}
		}
		fname, err := a.Field(i, "fname").String()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: annotations(%d).fname: %w", kind, annoPath, i+1, err)
		}
		c := v[4]
		if c != float64(int(c)) || c < 1 || int(c) > len(classes) {
			return nil, fmt.Errorf("%s: %s: annotations(%d) (%s) has class %v outside 1…%d (%s)", kind, annoPath, i+1, fname, c, len(classes), metaPath)
		}
		if v[2] < v[0] || v[3] < v[1] {
			return nil, fmt.Errorf("%s: %s: annotations(%d) (%s) has an empty box (%g,%g)–(%g,%g)", kind, annoPath, i+1, fname, v[0], v[1], v[2], v[3])
		}
		b := inclusiveBox(v[0], v[1], v[2], v[3])
		ds.Items[i] = Item{Path: filepath.Join(imgDir, filepath.FromSlash(fname)), Label: int(c) - 1, Box: &b}
	}
	return ds, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
