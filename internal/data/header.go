package data

import (
	"bufio"
	"errors"
	"fmt"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"sync"
)

// MaxFileBytes bounds what an image file read takes in: a regular file
// larger than this, or a device or pipe that streams past it (/dev/zero),
// is refused rather than read into memory. A photo of MaxPixels stored
// uncompressed fits. (A variable so that a test need not read a GiB.)
var MaxFileBytes int64 = 1 << 30

// readImageFile reads the image file at path, at most MaxFileBytes of it.
func readImageFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, errors.New("is a folder, not an image file")
	}
	if st.Mode().IsRegular() {
		if st.Size() > MaxFileBytes {
			return nil, fmt.Errorf("file of %d bytes is larger than any image racnn reads (%d)", st.Size(), MaxFileBytes)
		}
		b := make([]byte, st.Size())
		if _, err := io.ReadFull(f, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > MaxFileBytes {
		return nil, fmt.Errorf("not a regular file, and it gave more than %d bytes (a device?)", MaxFileBytes)
	}
	return b, nil
}

// CheckHeader reads just enough of the image file at path to know it is
// one racnn can decode: a non-empty regular file whose JPEG or PNG header
// parses and gives a size within MaxPixels. It is a cheap check before a
// long run, not a decode: a file cut short after its header passes.
func CheckHeader(path string) error {
	if err := checkHeader(path); err != nil {
		return &ImageError{Path: path, Err: err}
	}
	return nil
}

func checkHeader(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return unwrapPathError(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return unwrapPathError(err)
	}
	switch {
	case st.IsDir():
		return errors.New("is a folder, not an image file")
	case !st.Mode().IsRegular():
		return errors.New("not a regular file")
	case st.Size() == 0:
		return errors.New("empty file (0 bytes)")
	case st.Size() > MaxFileBytes:
		return fmt.Errorf("file of %d bytes is larger than any image racnn reads (%d)", st.Size(), MaxFileBytes)
	}
	r := bufio.NewReaderSize(f, 4096)
	head, _ := r.Peek(16)
	var w, h int
	switch fm := sniff(head); fm {
	case "jpeg":
		cfg, err := jpeg.DecodeConfig(r)
		var unsupported jpeg.UnsupportedError
		if errors.As(err, &unsupported) {
			return nil // arithmetic coding and the like: libjpeg-turbo decodes what image/jpeg cannot parse
		}
		if err != nil {
			return fmt.Errorf("JPEG: %w", jpegGoError(err))
		}
		w, h = cfg.Width, cfg.Height
	case "png":
		cfg, err := png.DecodeConfig(r)
		if err != nil {
			return fmt.Errorf("PNG: %w", pngError(err))
		}
		w, h = cfg.Width, cfg.Height
	case "":
		return fmt.Errorf("not a JPEG or PNG file (starts with % x)", head[:min(len(head), 8)])
	default:
		return fmt.Errorf("a %s file: only JPEG and PNG are supported; convert it", fm)
	}
	return checkSize(w, h)
}

// CheckHeaders runs CheckHeader over every item of d on workers goroutines
// and applies the bad-image policy to each failure: under fail it returns
// the first bad file's error (in data set order), under skip it warns and
// counts them (bad.Handle) and returns nil.
func (d *Dataset) CheckHeaders(workers int, bad *BadImages) error {
	errs := make([]error, len(d.Items))
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(1, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = CheckHeader(d.Items[i].Path)
			}
		}()
	}
	for i := range d.Items {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err := bad.Handle(d.Items[i].Path, err); err != nil {
			return err
		}
	}
	return nil
}
