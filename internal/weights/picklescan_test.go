package weights

import (
	"archive/zip"
	"io"
	"runtime"
	"strings"
	"testing"
)

// scanPickle's cost estimate must cover what gopickle really allocates for
// the pickles torch.save writes, or its budget would not bound anything.
func TestScanPickleCostCoversUnpickling(t *testing.T) {
	for _, f := range []string{"tiny.pth", "checkpoint.pth", "module.pth", "list.pth"} {
		zr, err := zip.OpenReader("testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range zr.File {
			if !strings.HasSuffix(rec.Name, "/data.pkl") {
				continue
			}
			rc, _ := rec.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			end, cost, err := scanPickle(b)
			if err != nil || end != len(b) {
				t.Fatalf("%s: scanPickle = %d, %v; want %d, nil", f, end, err, len(b))
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, err = unpickle(b, func(any) (any, error) { return &storage{}, nil })
			runtime.ReadMemStats(&after)
			got := int64(after.TotalAlloc - before.TotalAlloc)
			t.Logf("%s: %d-byte pickle, estimated %d bytes, unpickling allocated %d", f, len(b), cost, got)
			if err != nil {
				t.Fatal(err)
			}
			if got > cost+1<<16 {
				t.Errorf("%s: unpickling allocated %d bytes, the estimate was %d", f, got, cost)
			}
		}
		zr.Close()
	}
}

func TestScanPickleRefuses(t *testing.T) {
	for _, c := range []struct{ pkl, want string }{
		{"\x80\x04\x95\x00\x00\x00\x00\x00\x01\x00\x00N.", "FRAME at byte 2 claims 1099511627776 bytes, only 2 are left"},
		{"\x80\x04\x8e\x00\x00\x00\x00\x00\x01\x00\x00N.", "BINBYTES8 at byte 2 claims"},
		{"\x80\x02T\xff\xff\xff\xffN.", "negative length"},
		{"\x80\x02" + strings.Repeat("(", 300) + ".", "nested deeper than 256"},
		{"\x80\x02\x8a\xff" + strings.Repeat("\x01", 255) + ".", "over the 64-byte limit"},
		{"\x80\x02cos\nsystem", "runs past the end"},
		{"\x80\x02N", "without its STOP"},
		{"\x80\x02\xffN.", "unknown pickle opcode 0xff"},
		{"", "empty pickle"},
	} {
		_, _, err := scanPickle([]byte(c.pkl))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("scanPickle(%q) = %v, want %q", c.pkl[:min(len(c.pkl), 20)], err, c.want)
		}
	}
	// The budget: a pickle of nothing but MARK/TUPLE pairs costs ~300 bytes a byte.
	bomb := "\x80\x02" + strings.Repeat("(t", 1<<20) + "."
	if _, _, err := scanPickle([]byte(bomb)); err == nil || !strings.Contains(err.Error(), "MiB of memory") {
		t.Errorf("MARK bomb: %v", err)
	}
}
