package data

import (
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// The data set layouts are built in t.TempDir(); the MATLAB files of Dogs
// and Cars are the fixtures of package matv5 (scripts/make_mat_fixtures.py),
// which mirror the real files' structures.

func writeFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeText(t *testing.T, p, text string) { writeFile(t, p, []byte(text)) }

// tinyJPEG is a w×h JPEG of one colour.
func tinyJPEG(t *testing.T, w, h int, c color.RGBA) []byte {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(m.Pix); i += 4 {
		m.Pix[i], m.Pix[i+1], m.Pix[i+2], m.Pix[i+3] = c.R, c.G, c.B, 255
	}
	return encodeJPEG(t, m)
}

func copyFixture(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dst, b)
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one saying %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not say %q", err, p)
		}
	}
}

func boxPtr(x, y, w, h float64) *Box { return &Box{X: x, Y: y, W: w, H: h} }

func checkItems(t *testing.T, ds *Dataset, want []Item) {
	t.Helper()
	if len(ds.Items) != len(want) {
		t.Fatalf("%d items, want %d: %+v", len(ds.Items), len(want), ds.Items)
	}
	for i, w := range want {
		g := ds.Items[i]
		if g.Path != w.Path || g.Label != w.Label || !reflect.DeepEqual(g.Box, w.Box) {
			t.Errorf("item %d = {%s %d %s}, want {%s %d %s}", i, g.Path, g.Label, boxString(g.Box), w.Path, w.Label, boxString(w.Box))
		}
	}
}

func boxString(b *Box) string {
	if b == nil {
		return "nil"
	}
	return fmt.Sprintf("%+v", *b)
}

// --- CUB-200-2011 ---

func makeCUB(t *testing.T) (parent, dir string) {
	parent = t.TempDir()
	dir = filepath.Join(parent, "CUB_200_2011")
	paths := []string{
		"001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg",
		"001.Black_footed_Albatross/Black_Footed_Albatross_0009_34.jpg",
		"002.Laysan_Albatross/Laysan_Albatross_0002_1027.jpg",
		"002.Laysan_Albatross/Laysan_Albatross_0003_1033.jpg",
		"003.Sooty_Albatross/Sooty_Albatross_0031_1066.jpg",
		"003.Sooty_Albatross/Sooty_Albatross_0032_796.jpg",
	}
	var images, labels, split, boxes strings.Builder
	for i, p := range paths {
		id := i + 1
		writeFile(t, filepath.Join(dir, "images", p), tinyJPEG(t, 40, 30, color.RGBA{uint8(40 * i), 100, 200, 255}))
		images.WriteString(strings.Join([]string{itoa(id), p}, " ") + "\n")
		labels.WriteString(itoa(id) + " " + itoa(i/2+1) + "\n")
		split.WriteString(itoa(id) + " " + itoa((i+1)%2) + "\n") // 1st, 3rd, 5th train
		boxes.WriteString(itoa(id) + " " + itoa(i) + ".0 " + itoa(2*i) + ".5 20.0 10.25\n")
	}
	writeText(t, filepath.Join(dir, "images.txt"), images.String())
	writeText(t, filepath.Join(dir, "image_class_labels.txt"), labels.String())
	writeText(t, filepath.Join(dir, "train_test_split.txt"), split.String())
	writeText(t, filepath.Join(dir, "bounding_boxes.txt"), boxes.String())
	writeText(t, filepath.Join(dir, "classes.txt"), "1 001.Black_footed_Albatross\n2 002.Laysan_Albatross\n3 003.Sooty_Albatross\n")
	return parent, dir
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestOpenCUB(t *testing.T) {
	parent, dir := makeCUB(t)
	img := func(p string) string { return filepath.Join(dir, "images", filepath.FromSlash(p)) }
	wantClasses := []string{"001.Black_footed_Albatross", "002.Laysan_Albatross", "003.Sooty_Albatross"}
	for _, root := range []string{dir, parent} {
		train, err := Open("cub", root, "train")
		if err != nil {
			t.Fatal(err)
		}
		if train.Name != "cub" || train.Split != "train" || train.Root != dir || !reflect.DeepEqual(train.Classes, wantClasses) {
			t.Errorf("dataset %q %q %q %q", train.Name, train.Split, train.Root, train.Classes)
		}
		checkItems(t, train, []Item{
			{img("001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg"), 0, boxPtr(0, 0.5, 20, 10.25)},
			{img("002.Laysan_Albatross/Laysan_Albatross_0002_1027.jpg"), 1, boxPtr(2, 4.5, 20, 10.25)},
			{img("003.Sooty_Albatross/Sooty_Albatross_0031_1066.jpg"), 2, boxPtr(4, 8.5, 20, 10.25)},
		})
		test, err := Open("cub", root, "test")
		if err != nil {
			t.Fatal(err)
		}
		checkItems(t, test, []Item{
			{img("001.Black_footed_Albatross/Black_Footed_Albatross_0009_34.jpg"), 0, boxPtr(1, 2.5, 20, 10.25)},
			{img("002.Laysan_Albatross/Laysan_Albatross_0003_1033.jpg"), 1, boxPtr(3, 6.5, 20, 10.25)},
			{img("003.Sooty_Albatross/Sooty_Albatross_0032_796.jpg"), 2, boxPtr(5, 10.5, 20, 10.25)},
		})
		if c := test.ClassCounts(); !reflect.DeepEqual(c, []int{1, 1, 1}) {
			t.Errorf("class counts %v", c)
		}
	}
	// Without bounding_boxes.txt items have no box.
	os.Remove(filepath.Join(dir, "bounding_boxes.txt"))
	ds, err := OpenCUB(dir, "train")
	if err != nil {
		t.Fatal(err)
	}
	if ds.Items[0].Box != nil {
		t.Errorf("box %v without bounding_boxes.txt", ds.Items[0].Box)
	}
	if m, n := ds.MissingFiles(0); n != 0 {
		t.Errorf("missing %v", m)
	}
}

func TestOpenCUBErrors(t *testing.T) {
	empty := t.TempDir()
	_, err := Open("cub", empty, "train")
	wantErr(t, err, filepath.Join(empty, "images.txt"), "no such file", "point data.root at the CUB_200_2011 folder")

	_, err = Open("cub", filepath.Join(empty, "nope"), "train")
	wantErr(t, err, filepath.Join(empty, "nope"), "no such file")

	_, dir := makeCUB(t)
	_, err = Open("cub", dir, "validation")
	wantErr(t, err, "unknown split", "train or test")

	writeText(t, filepath.Join(dir, "image_class_labels.txt"), "1 1\n2 1\n3 9\n")
	_, err = Open("cub", dir, "train")
	wantErr(t, err, filepath.Join(dir, "image_class_labels.txt")+":3", "class 9 outside 1…3")

	writeText(t, filepath.Join(dir, "image_class_labels.txt"), "1 1\n2 1\n3 2\n4 2\n5 3\n")
	_, err = Open("cub", dir, "train")
	wantErr(t, err, "image id 6", "has no class")

	writeText(t, filepath.Join(dir, "image_class_labels.txt"), "1 1\n2 1\n3 2\n4 2\n5 3\n6 x\n")
	_, err = Open("cub", dir, "train")
	wantErr(t, err, "image_class_labels.txt:6", "two integers")

	writeText(t, filepath.Join(dir, "image_class_labels.txt"), "1 1\n2 1\n3 2\n4 2\n5 3\n6 3\n")
	writeText(t, filepath.Join(dir, "bounding_boxes.txt"), "1 0 0 0 5\n")
	_, err = Open("cub", dir, "train")
	wantErr(t, err, "bounding_boxes.txt:1", "box of size 0x5")

	os.Remove(filepath.Join(dir, "train_test_split.txt"))
	_, err = Open("cub", dir, "train")
	wantErr(t, err, filepath.Join(dir, "train_test_split.txt"), "no such file", "point data.root")
}

// --- Stanford Dogs ---

var dogFolders = []string{"n02085620-Chihuahua", "n02085782-Japanese_spaniel", "n02085936-Maltese_dog"}

var dogFiles = map[string][]string{
	"train": {
		"n02085620-Chihuahua/n02085620_10074", "n02085620-Chihuahua/n02085620_10131",
		"n02085782-Japanese_spaniel/n02085782_1039", "n02085782-Japanese_spaniel/n02085782_1058",
		"n02085936-Maltese_dog/n02085936_10073", "n02085936-Maltese_dog/n02085936_10130",
	},
	"test": {
		"n02085620-Chihuahua/n02085620_2650", "n02085782-Japanese_spaniel/n02085782_17",
		"n02085936-Maltese_dog/n02085936_233", "n02085936-Maltese_dog/n02085936_37",
	},
}

func vocXML(w, h int, boxes ...[4]int) string {
	var sb strings.Builder
	sb.WriteString("<annotation>\n\t<folder>02085620</folder>\n\t<filename>x</filename>\n\t<source><database>ImageNet database</database></source>\n")
	sb.WriteString("\t<size>\n\t\t<width>" + itoa(w) + "</width>\n\t\t<height>" + itoa(h) + "</height>\n\t\t<depth>3</depth>\n\t</size>\n\t<segment>0</segment>\n")
	for _, b := range boxes {
		sb.WriteString("\t<object>\n\t\t<name>Chihuahua</name>\n\t\t<pose>Unspecified</pose>\n\t\t<truncated>0</truncated>\n\t\t<difficult>0</difficult>\n")
		sb.WriteString("\t\t<bndbox>\n\t\t\t<xmin>" + itoa(b[0]) + "</xmin>\n\t\t\t<ymin>" + itoa(b[1]) + "</ymin>\n\t\t\t<xmax>" + itoa(b[2]) + "</xmax>\n\t\t\t<ymax>" + itoa(b[3]) + "</ymax>\n\t\t</bndbox>\n\t</object>\n")
	}
	sb.WriteString("</annotation>\n")
	return sb.String()
}

func makeDogs(t *testing.T, listsInRoot bool) string {
	root := t.TempDir()
	for _, split := range []string{"train", "test"} {
		for _, f := range dogFiles[split] {
			writeFile(t, filepath.Join(root, "Images", f+".jpg"), tinyJPEG(t, 50, 40, color.RGBA{200, 150, 100, 255}))
		}
		dst := filepath.Join(root, "lists", split+"_list.mat")
		if listsInRoot {
			dst = filepath.Join(root, split+"_list.mat")
		}
		copyFixture(t, filepath.Join("matv5", "testdata", "dogs_"+split+"_list.mat"), dst)
	}
	anno := filepath.Join(root, "Annotation")
	// One dog, 1-based inclusive: pixels 10…29 × 5…24.
	writeText(t, filepath.Join(anno, dogFiles["train"][0]), vocXML(50, 40, [4]int{10, 5, 29, 24}))
	// Two dogs: their union.
	writeText(t, filepath.Join(anno, dogFiles["train"][2]), vocXML(50, 40, [4]int{1, 1, 10, 10}, [4]int{30, 20, 45, 35}))
	// A box reaching past the image is clipped to <size>.
	writeText(t, filepath.Join(anno, dogFiles["train"][4]), vocXML(50, 40, [4]int{0, 2, 60, 40}))
	// The whole image.
	writeText(t, filepath.Join(anno, dogFiles["test"][3]), vocXML(50, 40, [4]int{1, 1, 50, 40}))
	return root
}

func TestOpenDogs(t *testing.T) {
	for _, inRoot := range []bool{false, true} {
		root := makeDogs(t, inRoot)
		img := func(f string) string { return filepath.Join(root, "Images", filepath.FromSlash(f)+".jpg") }
		train, err := Open("dogs", root, "train")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(train.Classes, []string{"Chihuahua", "Japanese_spaniel", "Maltese_dog"}) {
			t.Errorf("classes %q", train.Classes)
		}
		f := dogFiles["train"]
		checkItems(t, train, []Item{
			{img(f[0]), 0, boxPtr(9, 4, 20, 20)},
			{img(f[1]), 0, nil},
			{img(f[2]), 1, boxPtr(0, 0, 45, 35)},
			{img(f[3]), 1, nil},
			{img(f[4]), 2, boxPtr(0, 1, 50, 39)},
			{img(f[5]), 2, nil},
		})
		test, err := Open("dogs", root, "test")
		if err != nil {
			t.Fatal(err)
		}
		f = dogFiles["test"]
		checkItems(t, test, []Item{
			{img(f[0]), 0, nil}, {img(f[1]), 1, nil}, {img(f[2]), 2, nil}, {img(f[3]), 2, boxPtr(0, 0, 50, 40)},
		})
		if _, n := test.MissingFiles(0); n != 0 {
			t.Errorf("%d files missing", n)
		}
	}
}

func TestOpenDogsErrors(t *testing.T) {
	empty := t.TempDir()
	_, err := Open("dogs", empty, "train")
	wantErr(t, err, filepath.Join(empty, "lists", "train_list.mat"), "no such file", "point data.root at the Stanford Dogs folder")

	root := makeDogs(t, false)
	// An extra breed folder sorting first shifts the labels: caught.
	if err := os.MkdirAll(filepath.Join(root, "Images", "n02085000-Extra"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = Open("dogs", root, "train")
	wantErr(t, err, "train_list.mat", "has label 1, but its folder is class 2")
	os.Remove(filepath.Join(root, "Images", "n02085000-Extra"))

	writeText(t, filepath.Join(root, "Annotation", dogFiles["train"][1]), "<annotation><object><bndbox><xmin>9</xmin>")
	_, err = Open("dogs", root, "train")
	wantErr(t, err, filepath.Join(root, "Annotation", filepath.FromSlash(dogFiles["train"][1])), "PASCAL VOC")

	writeText(t, filepath.Join(root, "lists", "train_list.mat"), "not a mat file")
	_, err = Open("dogs", root, "train")
	wantErr(t, err, filepath.Join(root, "lists", "train_list.mat"), "truncated")
}

// --- Stanford Cars ---

func makeCars(t *testing.T, nested bool) string {
	root := t.TempDir()
	fx := func(n string) string { return filepath.Join("matv5", "testdata", n) }
	copyFixture(t, fx("cars_train_annos.mat"), filepath.Join(root, "devkit", "cars_train_annos.mat"))
	copyFixture(t, fx("cars_meta.mat"), filepath.Join(root, "devkit", "cars_meta.mat"))
	copyFixture(t, fx("cars_test_annos_withlabels.mat"), filepath.Join(root, "cars_test_annos_withlabels.mat"))
	for split, n := range map[string]int{"train": 5, "test": 3} {
		dir := filepath.Join(root, "cars_"+split)
		if nested {
			dir = filepath.Join(dir, "cars_"+split)
		}
		for i := 1; i <= n; i++ {
			writeFile(t, filepath.Join(dir, "0000"+itoa(i)+".jpg"), tinyJPEG(t, 40, 30, color.RGBA{10, 20, 30, 255}))
		}
	}
	return root
}

func TestOpenCars(t *testing.T) {
	for _, nested := range []bool{false, true} {
		root := makeCars(t, nested)
		dir := func(split string) string {
			d := filepath.Join(root, "cars_"+split)
			if nested {
				d = filepath.Join(d, "cars_"+split)
			}
			return d
		}
		train, err := Open("cars", root, "train")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(train.Classes, []string{"AM General Hummer SUV 2000", "Acura RL Sedan 2012", "Acura TL Sedan 2012"}) {
			t.Errorf("classes %q", train.Classes)
		}
		p := func(split, f string) string { return filepath.Join(dir(split), f) }
		// (x1, y1, x2, y2) 1-based inclusive → {x1-1, y1-1, x2-x1+1, y2-y1+1}
		checkItems(t, train, []Item{
			{p("train", "00001.jpg"), 0, boxPtr(2, 4, 28, 16)},       // (3, 5, 30, 20)
			{p("train", "00002.jpg"), 1, boxPtr(0, 0, 40, 30)},       // (1, 1, 40, 30): the whole 40×30 image
			{p("train", "00003.jpg"), 2, boxPtr(9, 1, 30, 28)},       // (10, 2, 39, 29)
			{p("train", "00004.jpg"), 0, boxPtr(1, 3, 19, 9)},        // (2, 4, 20, 12)
			{p("train", "00005.jpg"), 1, boxPtr(299, 199, 701, 501)}, // (300, 200, 1000, 700), uint16 fields
		})
		test, err := Open("cars", root, "test")
		if err != nil {
			t.Fatal(err)
		}
		checkItems(t, test, []Item{
			{p("test", "00001.jpg"), 2, boxPtr(4, 5, 21, 21)},
			{p("test", "00002.jpg"), 0, boxPtr(0, 1, 33, 27)},
			{p("test", "00003.jpg"), 1, boxPtr(3, 3, 33, 21)},
		})
		if _, n := test.MissingFiles(0); n != 0 {
			t.Errorf("%d files missing", n)
		}
	}
}

func TestOpenCarsErrors(t *testing.T) {
	root := makeCars(t, false)
	os.Remove(filepath.Join(root, "cars_test_annos_withlabels.mat"))
	_, err := Open("cars", root, "test")
	wantErr(t, err, filepath.Join(root, "cars_test_annos_withlabels.mat"), "no such file", "test labels")

	os.Remove(filepath.Join(root, "devkit", "cars_meta.mat"))
	_, err = Open("cars", root, "train")
	wantErr(t, err, filepath.Join(root, "devkit", "cars_meta.mat"), "no such file", "point data.root at the Stanford Cars folder")

	// The test annotations without labels (the devkit's cars_test_annos.mat
	// lacks the class field) are refused with the reason.
	root = makeCars(t, false)
	copyFixture(t, filepath.Join("matv5", "testdata", "dogs_test_list.mat"), filepath.Join(root, "cars_test_annos_withlabels.mat"))
	_, err = Open("cars", root, "test")
	wantErr(t, err, "cars_test_annos_withlabels.mat", `no struct array "annotations"`)

	root = makeCars(t, false)
	os.RemoveAll(filepath.Join(root, "cars_train"))
	_, err = Open("cars", root, "train")
	wantErr(t, err, filepath.Join(root, "cars_train"), "no such folder")
}

// --- image folders ---

func makeFolder(t *testing.T) string {
	root := t.TempDir()
	png1 := encodePNG(t, image.NewGray(image.Rect(0, 0, 8, 8)))
	for _, p := range []string{
		"train/cat/a.jpg", "train/cat/b.PNG", "train/cat/sub/c.jpeg", "train/dog/d.png",
		"train/dog/with space.png", "test/cat/e.jpg", "test/bird/f.png",
	} {
		writeFile(t, filepath.Join(root, filepath.FromSlash(p)), png1)
	}
	// Not images, hidden files and folders: skipped.
	writeText(t, filepath.Join(root, "train", "cat", "notes.txt"), "hello")
	writeFile(t, filepath.Join(root, "train", "cat", ".hidden.jpg"), png1)
	writeFile(t, filepath.Join(root, "train", ".cache", "x.jpg"), png1)
	return root
}

func TestOpenFolder(t *testing.T) {
	root := makeFolder(t)
	writeText(t, filepath.Join(root, "train", "boxes.txt"),
		"# path x y w h\ncat/a.jpg 1 2 3 4\n\ncat/sub/c.jpeg 0.5 1.5 6.25 7\ndog/with space.png 0 0 8 8\n")
	train, err := Open("folder", root, "train")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(train.Classes, []string{"bird", "cat", "dog"}) {
		t.Errorf("classes %q (want the union of train and test, sorted)", train.Classes)
	}
	p := func(rel string) string { return filepath.Join(root, "train", filepath.FromSlash(rel)) }
	checkItems(t, train, []Item{
		{p("cat/a.jpg"), 1, boxPtr(1, 2, 3, 4)},
		{p("cat/b.PNG"), 1, nil},
		{p("cat/sub/c.jpeg"), 1, boxPtr(0.5, 1.5, 6.25, 7)},
		{p("dog/d.png"), 2, nil},
		{p("dog/with space.png"), 2, boxPtr(0, 0, 8, 8)},
	})
	test, err := Open("folder", root, "test")
	if err != nil {
		t.Fatal(err)
	}
	checkItems(t, test, []Item{
		{filepath.Join(root, "test", "bird", "f.png"), 0, nil},
		{filepath.Join(root, "test", "cat", "e.jpg"), 1, nil},
	})

	// boxes.csv, with a header row, when there is no boxes.txt.
	os.Remove(filepath.Join(root, "train", "boxes.txt"))
	writeText(t, filepath.Join(root, "train", "boxes.csv"), "path,x,y,w,h\ndog/d.png, 1, 1, 2, 2\n")
	train, err = Open("folder", root, "train")
	if err != nil {
		t.Fatal(err)
	}
	if b := train.Items[3].Box; b == nil || *b != (Box{1, 1, 2, 2}) {
		t.Errorf("csv box %v", b)
	}
}

func TestOpenFolderErrors(t *testing.T) {
	root := makeFolder(t)
	writeText(t, filepath.Join(root, "train", "boxes.txt"), "cat/a.jpg 1 2 3 4\ncat/zzz.jpg 1 2 3 4\n")
	_, err := Open("folder", root, "train")
	wantErr(t, err, filepath.Join(root, "train", "boxes.txt")+":2", `no image "cat/zzz.jpg"`)

	writeText(t, filepath.Join(root, "train", "boxes.txt"), "cat/a.jpg 1 2 three 4\n")
	_, err = Open("folder", root, "train")
	wantErr(t, err, "boxes.txt:1", `bad number "three"`)

	writeText(t, filepath.Join(root, "train", "boxes.txt"), "cat/a.jpg 1 2 3\n")
	_, err = Open("folder", root, "train")
	wantErr(t, err, "boxes.txt:1", "want")

	_, err = Open("folder", root, "val")
	wantErr(t, err, filepath.Join(root, "val"), "no such folder", "one sub-folder per class")

	_, err = Open("folder", filepath.Join(root, "train"), "train")
	wantErr(t, err, "no such folder")

	_, err = Open("mnist", root, "train")
	wantErr(t, err, `unknown data set kind "mnist"`, "cub, dogs, cars, folder")

	_, err = Open("cub", "", "train")
	wantErr(t, err, "data.root")
}

// TestDecodeDatasetWithBadImage decodes every item of a folder data set in
// which one file is empty, under both policies.
func TestDecodeDatasetWithBadImage(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "train", "a", "1.jpg"), tinyJPEG(t, 16, 16, color.RGBA{250, 0, 0, 255}))
	writeFile(t, filepath.Join(root, "train", "a", "2.jpg"), nil)
	writeFile(t, filepath.Join(root, "train", "b", "3.png"), encodePNG(t, image.NewGray(image.Rect(0, 0, 4, 2))))
	ds, err := Open("folder", root, "train")
	if err != nil {
		t.Fatal(err)
	}
	run := func(bad *BadImages) (decoded int, err error) {
		for _, it := range ds.Items {
			img, derr := DecodeFile(it.Path)
			if derr != nil {
				if err := bad.Handle(it.Path, derr); err != nil {
					return decoded, err
				}
				continue
			}
			if it.Label == 0 && !near(at(img, 8, 8), [3]int{250, 0, 0}, 4) {
				t.Errorf("%s: pixel %v", it.Path, at(img, 8, 8))
			}
			decoded++
		}
		return decoded, nil
	}
	_, err = run(&BadImages{Policy: BadImageFail})
	wantErr(t, err, filepath.Join(root, "train", "a", "2.jpg"), "empty file")

	var warned []string
	skip := &BadImages{Policy: BadImageSkip, Warn: func(m string) { warned = append(warned, m) }}
	n, err := run(skip)
	if err != nil || n != 2 || skip.Count() != 1 || len(warned) != 1 || !strings.Contains(warned[0], "2.jpg") {
		t.Errorf("skip: decoded %d, err %v, count %d, warnings %q", n, err, skip.Count(), warned)
	}
}

// An unreadable data root says so, not that something in it is missing.
// (Root reads every folder, so the test needs an ordinary user; as root
// `runuser -u nobody` over the same layout shows the message.)
func TestUnreadableRootSaysPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads unreadable folders")
	}
	root := makeFolder(t)
	if err := os.Chmod(root, 0o300); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(root, 0o755)
	for _, kind := range Kinds {
		_, err := Open(kind, root, "train")
		wantErr(t, err, root, "permission denied")
	}
}
