package weights

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/racnn/racnn/internal/atomicfile"
)

// The safetensors layout (https://github.com/huggingface/safetensors):
//
//	8 bytes   N, little-endian uint64
//	N bytes   JSON header: {"__metadata__": {string: string},
//	          "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
//	          padded with spaces so that 8+N is a multiple of 8
//	rest      tensor bytes, row-major little-endian; offsets are relative to
//	          the start of this section, contiguous, covering it exactly

// maxHeaderSize is the reference implementation's limit on N.
const maxHeaderSize = 100_000_000

// stRank orders dtypes as the reference writer does: tensors are stored by
// descending rank (the order of its Dtype enum, which is by alignment),
// then by name.
var stRank = map[DType]int{Bool: 0, U8: 1, I8: 2, I16: 3, F16: 5, BF16: 6, I32: 7, F32: 9, F64: 10, I64: 11}

type stInfo struct {
	DType       *string   `json:"dtype"`
	Shape       *[]int64  `json:"shape"`
	DataOffsets *[]uint64 `json:"data_offsets"`
}

type stEntry struct {
	name       string
	dtype      DType
	shape      []int64
	begin, end uint64
}

// ReadSafetensors reads a safetensors stream of the given total size (the
// file size). The StateDict has the header's order, which for files written
// by WriteSafetensors (and the reference writer) is by descending dtype
// alignment, then by name. The metadata map is empty, not nil, when the file
// has none. Errors do not name the file; ReadSafetensorsFile adds it.
func ReadSafetensors(r io.Reader, size int64) (*StateDict, map[string]string, error) {
	entries, meta, n, err := readSTHeader(r, size)
	if err != nil {
		return nil, nil, err
	}
	byOffset, err := checkSTLayout(entries, n, size)
	if err != nil {
		return nil, nil, err
	}

	data := make(map[*stEntry][]byte, len(entries))
	br := bufio.NewReaderSize(r, 1<<20)
	for _, e := range byOffset {
		b := make([]byte, e.end-e.begin)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, nil, fmt.Errorf("reading tensor %s: %v%s", e.name, err, hintRedo)
		}
		data[e] = b
	}
	sd := NewStateDict()
	for _, e := range entries {
		sd.Set(e.name, &Tensor{DType: e.dtype, Shape: e.shape, Data: data[e]})
	}
	return sd, meta, nil
}

// checkSTLayout checks that the entries' data offsets tile the data section
// of a file of the given size exactly, as the reference reader demands, and
// returns the entries in file order.
func checkSTLayout(entries []*stEntry, n uint64, size int64) ([]*stEntry, error) {
	byOffset := slices.Clone(entries)
	slices.SortStableFunc(byOffset, func(a, b *stEntry) int {
		if a.begin != b.begin {
			return cmp.Compare(a.begin, b.begin)
		}
		return cmp.Compare(a.end, b.end)
	})
	var pos uint64
	for _, e := range byOffset {
		if e.begin != pos {
			return nil, fmt.Errorf("tensor %s: data_offsets [%d, %d] leave a gap or overlap at byte %d of the data section", e.name, e.begin, e.end, pos)
		}
		pos = e.end
	}
	dataLen := uint64(size - 8 - int64(n))
	if pos > dataLen {
		return nil, fmt.Errorf("truncated: the header describes %d bytes of tensor data, the file has %d%s", pos, dataLen, hintRedo)
	}
	if pos < dataLen {
		return nil, fmt.Errorf("%d bytes after the last tensor: corrupt, or not a safetensors file", dataLen-pos)
	}
	return byOffset, nil
}

const hintRedo = "; the file is truncated or corrupt: write or download it again"

// readSTHeader reads the size field and the header of a safetensors stream
// of the given total size, and returns the header's entries, its metadata
// and its length.
func readSTHeader(r io.Reader, size int64) ([]*stEntry, map[string]string, uint64, error) {
	if size < 8 {
		return nil, nil, 0, fmt.Errorf("too short for a safetensors file (%d bytes)%s", size, hintRedo)
	}
	var nb [8]byte
	if _, err := io.ReadFull(r, nb[:]); err != nil {
		return nil, nil, 0, fmt.Errorf("reading the header size: %v%s", err, hintRedo)
	}
	n := binary.LittleEndian.Uint64(nb[:])
	if n > maxHeaderSize {
		return nil, nil, 0, fmt.Errorf("header size %d is over the %d limit: not a safetensors file, or corrupt", n, maxHeaderSize)
	}
	if int64(n) > size-8 {
		return nil, nil, 0, fmt.Errorf("truncated: the header needs %d bytes, the file has %d after the size field%s", n, size-8, hintRedo)
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, nil, 0, fmt.Errorf("reading the header: %v%s", err, hintRedo)
	}
	entries, meta, err := parseSTHeader(hdr)
	return entries, meta, n, err
}

// parseSTHeader decodes the JSON header, keeping the order of its keys.
func parseSTHeader(hdr []byte) ([]*stEntry, map[string]string, error) {
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, nil, fmt.Errorf("the header is not a JSON object: not a safetensors file, or corrupt")
	}
	bad := func(err error) error {
		return fmt.Errorf("invalid safetensors header: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if _, err := dec.Token(); err != nil { // '{'
		return nil, nil, bad(err)
	}
	meta := map[string]string{}
	var entries []*stEntry
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, bad(err)
		}
		name := tok.(string) // object keys are always strings
		if seen[name] {
			return nil, nil, bad(fmt.Errorf("key %q appears twice", name))
		}
		seen[name] = true
		if name == "__metadata__" {
			if err := dec.Decode(&meta); err != nil {
				return nil, nil, bad(fmt.Errorf("__metadata__ must map strings to strings: %v", err))
			}
			continue
		}
		var info stInfo
		if err := dec.Decode(&info); err != nil {
			return nil, nil, bad(fmt.Errorf("tensor %s: %v", name, err))
		}
		if info.DType == nil || info.Shape == nil || info.DataOffsets == nil {
			return nil, nil, bad(fmt.Errorf("tensor %s: needs dtype, shape and data_offsets", name))
		}
		dt := DType(*info.DType)
		if !dt.Valid() {
			return nil, nil, fmt.Errorf("tensor %s has dtype %s, which this program does not read (it reads F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)", name, *info.DType)
		}
		off := *info.DataOffsets
		if len(off) != 2 || off[1] < off[0] {
			return nil, nil, bad(fmt.Errorf("tensor %s: data_offsets %v is not [begin, end]", name, off))
		}
		ne := NumElements(*info.Shape)
		if ne < 0 || uint64(ne) > (1<<62)/uint64(dt.Size()) {
			return nil, nil, bad(fmt.Errorf("tensor %s: invalid shape %v", name, *info.Shape))
		}
		if want := uint64(ne) * uint64(dt.Size()); off[1]-off[0] != want {
			return nil, nil, bad(fmt.Errorf("tensor %s: %s%v needs %d bytes, data_offsets %v give %d", name, dt, *info.Shape, want, off, off[1]-off[0]))
		}
		shape := *info.Shape
		if shape == nil {
			shape = []int64{}
		}
		entries = append(entries, &stEntry{name: name, dtype: dt, shape: shape, begin: off[0], end: off[1]})
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, nil, bad(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, bad(fmt.Errorf("data after the JSON object"))
	}
	return entries, meta, nil
}

// ReadSafetensorsFile reads a safetensors file. Errors are one line that
// starts with the path.
func ReadSafetensorsFile(path string) (*StateDict, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err // *PathError names the file
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	sd, meta, err := ReadSafetensors(f, st.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return sd, meta, nil
}

// ReadSafetensorsHeader reads only a safetensors file's header: the names
// of its tensors, in the header's order, and its metadata.
func ReadSafetensorsHeader(path string) ([]string, map[string]string, error) {
	return readSTNames(path, false)
}

// CheckSafetensorsFile is ReadSafetensorsHeader that also checks the file
// holds exactly the tensor bytes its header describes (a truncated file
// fails), still without reading them.
func CheckSafetensorsFile(path string) ([]string, map[string]string, error) {
	return readSTNames(path, true)
}

// readSTNames reads the header of path, checking the data layout too when
// checkLayout is set.
func readSTNames(path string, checkLayout bool) ([]string, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err // *PathError names the file
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	entries, meta, n, err := readSTHeader(f, st.Size())
	if err == nil && checkLayout {
		_, err = checkSTLayout(entries, n, st.Size())
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.name
	}
	return names, meta, nil
}

// WriteSafetensors writes sd and meta in the safetensors format, laid out as
// the reference writer does: tensors by descending dtype alignment then
// name, compact JSON with "__metadata__" first (omitted when meta is empty,
// its keys sorted), the header padded with spaces to a multiple of 8 bytes.
func WriteSafetensors(w io.Writer, sd *StateDict, meta map[string]string) error {
	type item struct {
		name string
		t    *Tensor
	}
	items := make([]item, 0, sd.Len())
	for name, t := range sd.All() {
		if name == "" || name == "__metadata__" {
			return fmt.Errorf("tensor name %q is reserved", name)
		}
		if err := t.Validate(); err != nil {
			return fmt.Errorf("tensor %s: %v", name, err)
		}
		items = append(items, item{name, t})
	}
	slices.SortFunc(items, func(a, b item) int {
		if ra, rb := stRank[a.t.DType], stRank[b.t.DType]; ra != rb {
			return rb - ra
		}
		return strings.Compare(a.name, b.name)
	})

	var h bytes.Buffer
	h.WriteByte('{')
	if len(meta) > 0 {
		h.WriteString(`"__metadata__":{`)
		for i, k := range slices.Sorted(maps.Keys(meta)) {
			if i > 0 {
				h.WriteByte(',')
			}
			writeJSONString(&h, k)
			h.WriteByte(':')
			writeJSONString(&h, meta[k])
		}
		h.WriteByte('}')
	}
	var off uint64
	for i, it := range items {
		if i > 0 || len(meta) > 0 {
			h.WriteByte(',')
		}
		writeJSONString(&h, it.name)
		h.WriteString(`:{"dtype":"`)
		h.WriteString(string(it.t.DType))
		h.WriteString(`","shape":[`)
		for j, d := range it.t.Shape {
			if j > 0 {
				h.WriteByte(',')
			}
			h.WriteString(strconv.FormatInt(d, 10))
		}
		end := off + uint64(len(it.t.Data))
		fmt.Fprintf(&h, `],"data_offsets":[%d,%d]}`, off, end)
		off = end
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}

	var nb [8]byte
	binary.LittleEndian.PutUint64(nb[:], uint64(h.Len()))
	if _, err := w.Write(nb[:]); err != nil {
		return err
	}
	if _, err := w.Write(h.Bytes()); err != nil {
		return err
	}
	for _, it := range items {
		if _, err := w.Write(it.t.Data); err != nil {
			return err
		}
	}
	return nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)       // a string always encodes
	b.Truncate(b.Len() - 1) // Encode's newline
}

// WriteFileAtomic writes sd and meta as a safetensors file at path so that
// path holds either its old content or the complete new file, never a
// partial one (see atomicfile.Write).
func WriteFileAtomic(path string, sd *StateDict, meta map[string]string) error {
	return atomicfile.Write(path, func(w io.Writer) error { return WriteSafetensors(w, sd, meta) })
}
