package data

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Kinds are the data set layouts Open reads.
var Kinds = []string{"cub", "dogs", "cars", "folder"}

// Open reads one split of a data set in its native layout:
//
//	kind "cub":    CUB-200-2011 (OpenCUB)
//	kind "dogs":   Stanford Dogs (OpenDogs)
//	kind "cars":   Stanford Cars (OpenCars)
//	kind "folder": a generic image folder (OpenFolder)
//
// split is "train" or "test" ("val" too for folders). Item paths are
// absolute. Errors name the file at fault and say how to fix it.
func Open(kind, root, split string) (*Dataset, error) {
	if root == "" {
		return nil, fmt.Errorf("%s: no data root given — set data.root to the data set's folder", kind)
	}
	switch kind {
	case "cub":
		return OpenCUB(root, split)
	case "dogs":
		return OpenDogs(root, split)
	case "cars":
		return OpenCars(root, split)
	case "folder":
		return OpenFolder(root, split)
	}
	return nil, fmt.Errorf("data: unknown data set kind %q (want one of %s)", kind, strings.Join(Kinds, ", "))
}

func checkSplit(kind, split string, allowed ...string) error {
	for _, s := range allowed {
		if split == s {
			return nil
		}
	}
	return fmt.Errorf("%s: unknown split %q (want %s)", kind, split, strings.Join(allowed, " or "))
}

// absRoot makes root absolute and checks that it is a directory.
func absRoot(kind, root, fix string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("%s: %s: %v", kind, root, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", fileError(kind, abs, err, fix)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("%s: %s: not a folder — %s", kind, abs, fix)
	}
	if err := readableDir(abs); err != nil {
		return "", fileError(kind, abs, err, "make it readable to this user (chmod -R a+rX "+abs+")")
	}
	return abs, nil
}

// readableDir checks that dir can be listed and its entries reached, so an
// unreadable data root says "permission denied" rather than, later, that
// some file in it does not exist.
func readableDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err != nil && err != io.EOF {
		return err
	}
	if len(names) > 0 {
		if _, err := os.Lstat(filepath.Join(dir, names[0])); err != nil {
			return err
		}
	}
	return nil
}

// fileError words an error about a file of a data set: the path, what is
// wrong and the fix.
func fileError(kind, path string, err error, fix string) error {
	msg := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		msg = pe.Err.Error()
	}
	if errors.Is(err, fs.ErrNotExist) {
		msg = "no such file or folder"
	}
	if fix == "" {
		return fmt.Errorf("%s: %s: %s", kind, path, msg)
	}
	return fmt.Errorf("%s: %s: %s — %s", kind, path, msg, fix)
}

// firstExisting returns the first of paths that exists, or "".
func firstExisting(paths ...string) string {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// line is one non-blank line of a text file, with its 1-based number.
type line struct {
	n      int
	fields []string
	text   string
}

// readLines reads the non-blank lines of a text file, split into fields on
// white space. Lines starting with '#' are comments.
func readLines(kind, path, fix string) ([]line, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileError(kind, path, err, fix)
	}
	defer f.Close()
	var out []line
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	n := 0
	for sc.Scan() {
		n++
		t := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		out = append(out, line{n: n, fields: strings.Fields(t), text: t})
	}
	if err := sc.Err(); err != nil {
		return nil, fileError(kind, path, err, "")
	}
	return out, nil
}

// lineError is an error about line n of path.
func lineError(kind, path string, n int, format string, args ...any) error {
	return fmt.Errorf("%s: %s:%d: %s", kind, path, n, fmt.Sprintf(format, args...))
}

// MissingFiles stats every item's image and returns the paths that do not
// exist (at most limit of them; limit <= 0 means all) and how many there
// are.
func (d *Dataset) MissingFiles(limit int) ([]string, int) {
	var out []string
	n := 0
	for _, it := range d.Items {
		if _, err := os.Stat(it.Path); err != nil {
			n++
			if limit <= 0 || len(out) < limit {
				out = append(out, it.Path)
			}
		}
	}
	return out, n
}

// ClassCounts returns the number of items of each class.
func (d *Dataset) ClassCounts() []int {
	c := make([]int, len(d.Classes))
	for _, it := range d.Items {
		if it.Label >= 0 && it.Label < len(c) {
			c[it.Label]++
		}
	}
	return c
}

// subdirs lists the names of the sub-folders of dir, sorted, skipping
// hidden ones.
func subdirs(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		isDir := e.IsDir()
		if e.Type()&fs.ModeSymlink != 0 {
			if st, err := os.Stat(filepath.Join(dir, e.Name())); err == nil {
				isDir = st.IsDir()
			}
		}
		if isDir {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// unionBox is the smallest box holding a and b.
func unionBox(a, b Box) Box {
	x0, y0 := min(a.X, b.X), min(a.Y, b.Y)
	x1, y1 := max(a.X+a.W, b.X+b.W), max(a.Y+a.H, b.Y+b.H)
	return Box{X: x0, Y: y0, W: x1 - x0, H: y1 - y0}
}

// inclusiveBox converts 1-based inclusive pixel coordinates (x1, y1) …
// (x2, y2), the MATLAB / PASCAL VOC convention where a box covering a whole
// W×H image is (1, 1, W, H), to the Box convention (origin at the top-left
// corner of the top-left pixel): {x1-1, y1-1, x2-x1+1, y2-y1+1}.
func inclusiveBox(x1, y1, x2, y2 float64) Box {
	return Box{X: x1 - 1, Y: y1 - 1, W: x2 - x1 + 1, H: y2 - y1 + 1}
}

// clipBox clips b to a w×h image (unchanged when w or h is not positive).
func clipBox(b Box, w, h float64) Box {
	x0, y0, x1, y1 := max(b.X, 0), max(b.Y, 0), b.X+b.W, b.Y+b.H
	if w > 0 {
		x1 = min(x1, w)
	}
	if h > 0 {
		y1 = min(y1, h)
	}
	return Box{X: x0, Y: y0, W: max(x1-x0, 0), H: max(y1-y0, 0)}
}
