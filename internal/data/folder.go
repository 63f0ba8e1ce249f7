package data

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// FolderSplits are the split folder names OpenFolder knows.
var FolderSplits = []string{"train", "val", "test"}

// BoxesFile is the name of the optional box sidecar of a split folder.
const BoxesFile = "boxes.txt"

// OpenFolder reads a split of a generic image folder:
//
//	root/train/<class>/…/<image>
//	root/test/<class>/…/<image>
//	root/val/<class>/…/<image>        (optional)
//	root/<split>/boxes.txt            (optional box sidecar, see below)
//
// Images are the files ending in .jpg, .jpeg, .jpe, .jfif or .png (any case)
// anywhere under a class folder; hidden files and folders are skipped. The
// classes are the union of the class folder names of all split folders,
// sorted, so that a class missing from one split keeps the same label in
// every split. Items come sorted by class, then by path.
//
// # The boxes.txt sidecar
//
// A split folder may hold boxes.txt giving an object box per image (the
// cluttered-MNIST generator writes one). Format, one image per line:
//
//	<relative/path> <x> <y> <w> <h>
//
// where the path is relative to the split folder with "/" separators (e.g.
// "3/000012.png"; it may contain spaces: the last four fields are the
// numbers), and x, y, w, h are decimal numbers in pixels of the stored image
// in the Box convention: (x, y) is the top-left corner, the origin is the
// top-left corner of the top-left pixel, and a box over a whole W×H image is
// "0 0 W H". Blank lines and lines starting with '#' are ignored. Images
// without a line get no box; a line naming an image that is not in the split
// is an error. A boxes.csv with the columns path,x,y,w,h (header row
// optional) is read the same way when there is no boxes.txt.
func OpenFolder(root, split string) (*Dataset, error) {
	const kind = "folder"
	const fix = "point data.root at the folder holding train/ and test/, each with one sub-folder per class"
	if err := checkSplit(kind, split, FolderSplits...); err != nil {
		return nil, err
	}
	abs, err := absRoot(kind, root, fix)
	if err != nil {
		return nil, err
	}
	splitDir := filepath.Join(abs, split)
	if !isDir(splitDir) {
		return nil, fmt.Errorf("%s: %s: no such folder — %s", kind, splitDir, fix)
	}
	seen := map[string]bool{}
	for _, s := range FolderSplits {
		d := filepath.Join(abs, s)
		if !isDir(d) {
			continue
		}
		names, err := subdirs(d)
		if err != nil {
			return nil, fileError(kind, d, err, "")
		}
		for _, n := range names {
			seen[n] = true
		}
	}
	classes := make([]string, 0, len(seen))
	for n := range seen {
		classes = append(classes, n)
	}
	sort.Strings(classes)
	if len(classes) == 0 {
		return nil, fmt.Errorf("%s: %s: no class folders — %s", kind, splitDir, fix)
	}

	ds := &Dataset{Name: kind, Split: split, Root: abs, Classes: classes}
	byRel := map[string]int{}
	for label, c := range classes {
		cdir := filepath.Join(splitDir, c)
		if !isDir(cdir) {
			continue
		}
		err := filepath.WalkDir(cdir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if p != cdir && strings.HasPrefix(name, ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() || !isImageName(name) {
				return nil
			}
			rel, err := filepath.Rel(splitDir, p)
			if err != nil {
				return err
			}
			byRel[filepath.ToSlash(rel)] = len(ds.Items)
			ds.Items = append(ds.Items, Item{Path: p, Label: label})
			return nil
		})
		if err != nil {
			return nil, fileError(kind, cdir, err, "")
		}
	}
	if len(ds.Items) == 0 {
		return nil, fmt.Errorf("%s: %s: no images (.jpg, .jpeg, .png) in the class folders", kind, splitDir)
	}
	if err := readBoxSidecar(kind, splitDir, byRel, ds.Items); err != nil {
		return nil, err
	}
	return ds, nil
}

func isImageName(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".jpe", ".jfif", ".png":
		return true
	}
	return false
}

// readBoxSidecar reads splitDir/boxes.txt (or boxes.csv) into the items.
func readBoxSidecar(kind, splitDir string, byRel map[string]int, items []Item) error {
	txt := filepath.Join(splitDir, BoxesFile)
	csvPath := filepath.Join(splitDir, "boxes.csv")
	set := func(p string, n int, rel string, nums []string) error {
		var v [4]float64
		for k, s := range nums {
			f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return lineError(kind, p, n, "bad number %q", s)
			}
			v[k] = f
		}
		if v[2] < 0 || v[3] < 0 {
			return lineError(kind, p, n, "box of negative size %gx%g", v[2], v[3])
		}
		rel = strings.TrimPrefix(filepath.ToSlash(strings.TrimSpace(rel)), "./")
		i, ok := byRel[rel]
		if !ok {
			return lineError(kind, p, n, "no image %q in %s (paths are relative to the split folder, with /)", rel, splitDir)
		}
		items[i].Box = &Box{X: v[0], Y: v[1], W: v[2], H: v[3]}
		return nil
	}
	if _, err := os.Stat(txt); err == nil {
		lines, err := readLines(kind, txt, "")
		if err != nil {
			return err
		}
		for _, l := range lines {
			f := l.fields
			if len(f) < 5 {
				return lineError(kind, txt, l.n, "want \"<relative/path> <x> <y> <w> <h>\", got %q", l.text)
			}
			// The path is everything before the last four fields.
			rel := l.text
			for range 4 {
				rel = strings.TrimRightFunc(rel, isSpace)
				rel = strings.TrimRightFunc(rel, func(r rune) bool { return !isSpace(r) })
			}
			if err := set(txt, l.n, rel, f[len(f)-4:]); err != nil {
				return err
			}
		}
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fileError(kind, txt, err, "")
	}
	f, err := os.Open(csvPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fileError(kind, csvPath, err, "")
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = 5
	r.Comment = '#'
	r.TrimLeadingSpace = true
	for first := true; ; first = false {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		n, _ := r.FieldPos(0)
		if err != nil {
			return fmt.Errorf("%s: %s: %w (want path,x,y,w,h)", kind, csvPath, err)
		}
		if first {
			if _, err := strconv.ParseFloat(strings.TrimSpace(rec[1]), 64); err != nil {
				continue // header row
			}
		}
		if err := set(csvPath, n, rec[0], rec[1:]); err != nil {
			return err
		}
	}
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' }
