package data

import (
	"fmt"
	"log"
	"sync"
)

// OnBadImage is the policy for an image that cannot be read or decoded (the
// config key data.on_bad_image).
type OnBadImage string

const (
	// BadImageFail stops with the image's error (the default: a broken data
	// set should be noticed).
	BadImageFail OnBadImage = "fail"
	// BadImageSkip warns, counts the image and goes on without it.
	BadImageSkip OnBadImage = "skip"
)

// ParseOnBadImage checks a policy name; "" means BadImageFail.
func ParseOnBadImage(s string) (OnBadImage, error) {
	switch OnBadImage(s) {
	case "", BadImageFail:
		return BadImageFail, nil
	case BadImageSkip:
		return BadImageSkip, nil
	}
	return "", fmt.Errorf("on_bad_image: unknown policy %q (want %q or %q)", s, BadImageFail, BadImageSkip)
}

// maxWarnings is how many skipped images BadImages reports one by one.
const maxWarnings = 20

// BadImages applies an OnBadImage policy and counts the images it skipped.
// One value is shared by all loader goroutines of a run (it is safe for
// concurrent use); the zero value fails on the first bad image.
//
// The loader calls it on every per-image error, typically:
//
//	img, info, err := data.DecodeFileSized(item.Path, minSide)
//	if err != nil {
//		if err := bad.Handle(item.Path, err); err != nil {
//			return err // policy "fail": stop with the image's error
//		}
//		continue // policy "skip": warned and counted; leave the item out
//	}
//
// and reports Count at the end of an epoch or run.
type BadImages struct {
	Policy OnBadImage
	// Warn receives the warning for each of the first 20 skipped images and
	// one line saying later ones are only counted, without a "warning:"
	// label (the caller's log adds its own); nil means log.Print with one.
	Warn func(msg string)

	mu      sync.Mutex
	skipped []string // paths, in the order they were seen (all of them)
	seen    map[string]bool
}

// Handle applies the policy to err, the error of the image at path. It
// returns err unchanged under BadImageFail (so the caller stops) and nil
// under BadImageSkip, after warning and counting the image. An image that
// fails again (next epoch) is counted and reported only once.
func (b *BadImages) Handle(path string, err error) error {
	if err == nil {
		return nil
	}
	if b == nil || b.Policy != BadImageSkip {
		return err
	}
	b.mu.Lock()
	if b.seen == nil {
		b.seen = map[string]bool{}
	}
	first := !b.seen[path]
	var msg string
	if first {
		b.seen[path] = true
		b.skipped = append(b.skipped, path)
		switch n := len(b.skipped); {
		case n <= maxWarnings:
			msg = fmt.Sprintf("skipping bad image (on_bad_image: skip): %v", err)
		case n == maxWarnings+1:
			msg = fmt.Sprintf("more than %d bad images; further ones are skipped and counted without a message", maxWarnings)
		}
	}
	warn := b.Warn
	b.mu.Unlock()
	if msg != "" {
		if warn == nil {
			log.Print("warning: " + msg)
		} else {
			warn(msg)
		}
	}
	return nil
}

// Count is the number of distinct images skipped so far.
func (b *BadImages) Count() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.skipped)
}

// Skipped returns the paths of the skipped images, in the order they were
// first seen.
func (b *BadImages) Skipped() []string {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.skipped...)
}
