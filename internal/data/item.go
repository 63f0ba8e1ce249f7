// Package data reads the fine-grained data sets in their native layouts,
// decodes images, applies transforms and feeds batches to the trainer as Go
// slices (never tensors: tensors stay on the training goroutine).
package data

// Box is an axis-aligned box in source-image pixels. The origin is the
// top-left corner of the top-left pixel, x grows to the right and y down; a
// box covering a whole W×H image is {0, 0, W, H}.
type Box struct {
	X, Y, W, H float64
}

// Item is one labelled image of a split.
type Item struct {
	Path  string // absolute or data-set-relative path of the image file
	Label int    // 0-based class index into Dataset.Classes
	Box   *Box   // annotated object box in source pixels; nil when the data set has none
}

// Dataset is one split of a data set: its items and the class names, whose
// order defines the label indices.
type Dataset struct {
	Name    string
	Split   string // "train" or "test"
	Root    string
	Classes []string
	Items   []Item
}

// Image is an 8-bit RGB image, row-major, channels interleaved (HWC).
type Image struct {
	W, H int
	Pix  []uint8 // len W*H*3
}
