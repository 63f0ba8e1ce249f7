package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeIDX writes n fake 28×28 digits (a bar whose place depends on i) as
// uncompressed IDX files named stem-images-idx3-ubyte / stem-labels-idx1-ubyte.
func writeIDX(t *testing.T, dir, stem string, n int) {
	t.Helper()
	var img, lab bytes.Buffer
	binary.Write(&img, binary.BigEndian, []uint32{0x803, uint32(n), 28, 28})
	binary.Write(&lab, binary.BigEndian, []uint32{0x801, uint32(n)})
	for i := 0; i < n; i++ {
		px := make([]byte, 28*28)
		for y := 4; y < 24; y++ {
			px[y*28+4+i%20] = 200
		}
		img.Write(px)
		lab.WriteByte(byte(i % 10))
	}
	os.WriteFile(filepath.Join(dir, stem+"-images-idx3-ubyte"), img.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, stem+"-labels-idx1-ubyte"), lab.Bytes(), 0o644)
}

func execute(args ...string) (string, error) {
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestClutteredMNISTCommand(t *testing.T) {
	src, out := t.TempDir(), filepath.Join(t.TempDir(), "cm")
	writeIDX(t, src, "train", 30)
	writeIDX(t, src, "t10k", 10)
	msg, err := execute("data", "cluttered-mnist", "--source", src, "--out", out, "--canvas", "64", "--train", "12", "--seed", "7")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "wrote 12 train and 10 test canvases") {
		t.Fatalf("output %q", msg)
	}
	boxes, err := os.ReadFile(filepath.Join(out, "train", "boxes.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(boxes), "\n"); n != 12 {
		t.Fatalf("%d box lines, want 12", n)
	}
	// Running again without --force is a one-line error, no usage text.
	msg, err = execute("data", "cluttered-mnist", "--source", src, "--out", out)
	if err == nil || !strings.Contains(err.Error(), "--force") || strings.Contains(msg, "Usage") {
		t.Fatalf("second run: err %v, output %q", err, msg)
	}
	if _, err := execute("data", "cluttered-mnist", "--source", filepath.Join(src, "missing")); err == nil || !strings.Contains(err.Error(), "fetch-mnist.sh") {
		t.Fatalf("missing source: %v", err)
	}
}
