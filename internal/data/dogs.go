package data

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/racnn/racnn/internal/data/matv5"
)

// OpenDogs reads a split of Stanford Dogs. root holds
//
//	Images/<synset>-<breed>/<synset>_<n>.jpg
//	Annotation/<synset>-<breed>/<synset>_<n>   (PASCAL VOC XML, no extension; optional)
//	lists/train_list.mat, lists/test_list.mat  (or train_list.mat, test_list.mat in root)
//
// The list files (MATLAB v5) hold file_list (image paths under Images/),
// annotation_list (paths under Annotation/) and labels (1-based). Classes
// are the 120 breed folders of Images/ in sorted order, which is the label
// order of the lists (checked for every item); their names are the breed
// part of the folder name ("n02085620-Chihuahua" → "Chihuahua").
//
// Boxes: an annotation file may list several <object>s (several dogs, all of
// the image's breed). The item's box is their union, so that it never cuts
// away a labelled dog. The XML coordinates are 1-based inclusive, as in
// PASCAL VOC (a box over a whole W×H image is xmin=1 … xmax=W); they are
// converted to the Box convention and clipped to the <size> the file gives.
// Items whose annotation file is missing get no box.
func OpenDogs(root, split string) (*Dataset, error) {
	const kind = "dogs"
	const fix = "point data.root at the Stanford Dogs folder (the one holding Images/ and lists/)"
	if err := checkSplit(kind, split, "train", "test"); err != nil {
		return nil, err
	}
	abs, err := absRoot(kind, root, fix)
	if err != nil {
		return nil, err
	}
	listName := split + "_list.mat"
	listPath := firstExisting(filepath.Join(abs, "lists", listName), filepath.Join(abs, listName))
	if listPath == "" {
		return nil, fmt.Errorf("%s: %s: no such file (nor %s) — %s; the lists come from the data set's lists.tar",
			kind, filepath.Join(abs, "lists", listName), filepath.Join(abs, listName), fix)
	}
	imagesDir := filepath.Join(abs, "Images")
	folders, err := subdirs(imagesDir)
	if err != nil {
		return nil, fileError(kind, imagesDir, err, fix)
	}
	if len(folders) == 0 {
		return nil, fmt.Errorf("%s: %s: no breed folders — %s", kind, imagesDir, fix)
	}
	classIndex := make(map[string]int, len(folders))
	classes := make([]string, len(folders))
	for i, f := range folders {
		classIndex[f] = i
		classes[i] = f
		if _, breed, ok := strings.Cut(f, "-"); ok && breed != "" {
			classes[i] = breed
		}
	}

	mf, err := matv5.ReadFile(listPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	files, err := cellOfStrings(mf, "file_list")
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", kind, listPath, err)
	}
	labels := mf.Var("labels")
	if labels == nil || !labels.Class.IsNumeric() {
		return nil, fmt.Errorf("%s: %s: no numeric variable \"labels\"", kind, listPath)
	}
	if len(labels.Real) != len(files) {
		return nil, fmt.Errorf("%s: %s: %d labels for %d files", kind, listPath, len(labels.Real), len(files))
	}
	var annos []string
	if mf.Var("annotation_list") != nil {
		if annos, err = cellOfStrings(mf, "annotation_list"); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", kind, listPath, err)
		}
		if len(annos) != len(files) {
			return nil, fmt.Errorf("%s: %s: %d annotations for %d files", kind, listPath, len(annos), len(files))
		}
	}

	ds := &Dataset{Name: kind, Split: split, Root: abs, Classes: classes, Items: make([]Item, len(files))}
	for i, f := range files {
		l := labels.Real[i]
		if l != float64(int(l)) || l < 1 || int(l) > len(classes) {
			return nil, fmt.Errorf("%s: %s: label %v of %s outside 1…%d (the breed folders of %s)", kind, listPath, l, f, len(classes), imagesDir)
		}
		f = strings.ReplaceAll(f, "\\", "/")
		folder, _, _ := strings.Cut(f, "/")
		ci, ok := classIndex[folder]
		if !ok {
			return nil, fmt.Errorf("%s: %s: %s is in no breed folder of %s — is Images/ complete?", kind, listPath, f, imagesDir)
		}
		if ci != int(l)-1 {
			return nil, fmt.Errorf("%s: %s: %s has label %d, but its folder is class %d of the sorted folders of %s (missing or extra breed folders?)",
				kind, listPath, f, int(l), ci+1, imagesDir)
		}
		ds.Items[i] = Item{Path: filepath.Join(imagesDir, filepath.FromSlash(f)), Label: int(l) - 1}
	}

	// Boxes, read in parallel: 20,580 small XML files.
	annoDir := filepath.Join(abs, "Annotation")
	if _, err := os.Stat(annoDir); err == nil {
		if annos == nil {
			annos = make([]string, len(files))
			for i, f := range files {
				annos[i] = strings.TrimSuffix(f, path.Ext(f))
			}
		}
		if err := readDogBoxes(annoDir, annos, ds.Items); err != nil {
			return nil, fmt.Errorf("%s: %w", kind, err)
		}
	}
	return ds, nil
}

// cellOfStrings reads variable name of f as a cell array of strings.
func cellOfStrings(f *matv5.File, name string) ([]string, error) {
	v := f.Var(name)
	if v == nil {
		return nil, fmt.Errorf("no variable %q", name)
	}
	if v.Class != matv5.Cell {
		return nil, fmt.Errorf("variable %q is a %s array, want a cell array of strings", name, v.Class)
	}
	out := make([]string, len(v.Cells))
	for i, c := range v.Cells {
		s, err := c.String()
		if err != nil {
			return nil, fmt.Errorf("%s{%d}: %w", name, i+1, err)
		}
		out[i] = s
	}
	return out, nil
}

func readDogBoxes(annoDir string, annos []string, items []Item) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	next := make(chan int)
	for range max(1, min(runtime.GOMAXPROCS(0), 8)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				p := filepath.Join(annoDir, filepath.FromSlash(strings.ReplaceAll(annos[i], "\\", "/")))
				b, err := readVOCBox(p)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				items[i].Box = b
			}
		}()
	}
	for i := range annos {
		next <- i
	}
	close(next)
	wg.Wait()
	return firstErr
}

type vocAnnotation struct {
	Size struct {
		Width  float64 `xml:"width"`
		Height float64 `xml:"height"`
	} `xml:"size"`
	Objects []struct {
		Name   string `xml:"name"`
		BndBox *struct {
			Xmin float64 `xml:"xmin"`
			Ymin float64 `xml:"ymin"`
			Xmax float64 `xml:"xmax"`
			Ymax float64 `xml:"ymax"`
		} `xml:"bndbox"`
	} `xml:"object"`
}

// readVOCBox reads the union of the object boxes of a PASCAL VOC annotation
// file; nil (and no error) when the file does not exist or has no boxes.
func readVOCBox(p string) (*Box, error) {
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		if data, err = os.ReadFile(p + ".xml"); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	var a vocAnnotation
	if err := xml.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("%s: not a PASCAL VOC annotation: %w", p, err)
	}
	var box *Box
	for _, o := range a.Objects {
		bb := o.BndBox
		if bb == nil {
			continue
		}
		if bb.Xmax < bb.Xmin || bb.Ymax < bb.Ymin {
			return nil, fmt.Errorf("%s: object %q has an empty box (%g,%g)–(%g,%g)", p, o.Name, bb.Xmin, bb.Ymin, bb.Xmax, bb.Ymax)
		}
		b := inclusiveBox(bb.Xmin, bb.Ymin, bb.Xmax, bb.Ymax)
		if box == nil {
			box = &b
		} else {
			u := unionBox(*box, b)
			box = &u
		}
	}
	if box != nil {
		c := clipBox(*box, a.Size.Width, a.Size.Height)
		box = &c
	}
	return box, nil
}
