package weights

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// ReadPyTorchFile reads a state dict saved by torch.save(model.state_dict(),
// path): the zip format of torch >= 1.6 (<prefix>/data.pkl, <prefix>/data/<key>
// storages, <prefix>/version) or the legacy format before it (pickles
// followed by raw storages). Tensors are copied out in row-major order, so
// non-contiguous views (transposed, sliced, expanded) come back dense; a
// contiguous tensor that is alone on its storage shares the bytes read from
// the file. The _metadata attribute of the OrderedDict is ignored. Errors
// are one line that starts with the path and says what to do.
func ReadPyTorchFile(filename string) (*StateDict, error) {
	f, err := os.Open(filename)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	sd, err := ReadPyTorch(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	return sd, nil
}

// ReadPyTorch is ReadPyTorchFile on the size bytes of r. Its errors do not
// name a file.
func ReadPyTorch(r io.ReaderAt, size int64) (*StateDict, error) {
	var magic [4]byte
	n, _ := r.ReadAt(magic[:], 0)
	switch {
	case n < 4 || size < 4:
		return nil, tooShort(int(min(int64(n), size)))
	case string(magic[:]) == "PK\x03\x04":
		return readTorchZip(r, size)
	case magic[0] == 0x80 && magic[1] >= 2 && magic[1] <= 5:
		return readTorchLegacy(r, size)
	}
	return nil, errors.New("not a PyTorch file (neither a zip archive nor a pickle); expected the output of torch.save(model.state_dict(), path)")
}

// ReadFile reads a state dict from a safetensors file or a PyTorch file,
// telling them apart by their first bytes. meta is the safetensors
// __metadata__ (empty for PyTorch files).
func ReadFile(filename string) (*StateDict, map[string]string, error) {
	f, err := os.Open(filename)
	if err != nil {
		return nil, nil, err
	}
	var head [9]byte
	n, _ := io.ReadFull(f, head[:])
	f.Close()
	if n < 9 {
		return nil, nil, fmt.Errorf("%s: %w", filename, tooShort(n))
	}
	if head[8] == '{' && binary.LittleEndian.Uint64(head[:8]) <= maxHeaderSize {
		return ReadSafetensorsFile(filename)
	}
	sd, err := ReadPyTorchFile(filename)
	if err != nil {
		return nil, nil, err
	}
	return sd, map[string]string{}, nil
}

func tooShort(n int) error {
	if n == 0 {
		return errors.New("the file is empty (truncated, or never written): save or download it again")
	}
	return fmt.Errorf("only %d %s, too short for a weights file; the file is truncated: save or download it again", n, plural(n, "byte"))
}

// storage is one torch storage: a flat array of numel elements of dtype.
type storage struct {
	dtype DType
	key   string
	numel int64
	data  []byte
	refs  int
}

// storageClass stands for torch.FloatStorage and friends in the pickle.
type storageClass struct{ dtype DType }

var storageClasses = map[string]DType{
	"DoubleStorage": F64, "FloatStorage": F32, "HalfStorage": F16,
	"BFloat16Storage": BF16, "LongStorage": I64, "IntStorage": I32,
	"ShortStorage": I16, "CharStorage": I8, "ByteStorage": U8,
	"BoolStorage": Bool,
}

// tensorRef is a tensor as torch pickles it: a strided view of a storage.
type tensorRef struct {
	st     *storage
	offset int64
	size   []int64
	stride []int64
}

// rebuildTensor is torch._utils._rebuild_tensor_v2 (storage, storage_offset,
// size, stride, requires_grad, backward_hooks[, metadata]) and the older
// _rebuild_tensor (storage, storage_offset, size, stride).
type rebuildTensor struct{}

func (rebuildTensor) Call(args ...any) (any, error) {
	if len(args) < 4 {
		return nil, fmt.Errorf("_rebuild_tensor: %d arguments, want at least 4", len(args))
	}
	st, ok := args[0].(*storage)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor: argument 1 is %s, not a storage", typeName(args[0]))
	}
	off, ok := args[1].(int)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor: storage offset is %s, not an int", typeName(args[1]))
	}
	size, err := intTuple(args[2])
	if err != nil {
		return nil, fmt.Errorf("_rebuild_tensor: size: %v", err)
	}
	stride, err := intTuple(args[3])
	if err != nil {
		return nil, fmt.Errorf("_rebuild_tensor: stride: %v", err)
	}
	if len(size) != len(stride) {
		return nil, fmt.Errorf("_rebuild_tensor: size %s and stride %s differ in rank", short(size), short(stride))
	}
	if len(size) > maxDims {
		return nil, fmt.Errorf("_rebuild_tensor: %d dimensions, over the %d limit", len(size), maxDims)
	}
	st.refs++
	return &tensorRef{st: st, offset: int64(off), size: size, stride: stride}, nil
}

// rebuildParameter is torch._utils._rebuild_parameter(data, requires_grad,
// backward_hooks) and _rebuild_parameter_with_state(..., state): the data.
type rebuildParameter struct{}

func (rebuildParameter) Call(args ...any) (any, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("_rebuild_parameter: no arguments")
	}
	return args[0], nil
}

// rebuildFromType is torch._tensor._rebuild_from_type_v2(func, new_type,
// args, state), used for tensor subclasses: func(*args), type dropped.
type rebuildFromType struct{}

func (rebuildFromType) Call(args ...any) (any, error) {
	if len(args) < 3 {
		return nil, fmt.Errorf("_rebuild_from_type_v2: %d arguments, want 4", len(args))
	}
	fn, ok := args[0].(types.Callable)
	fargs, ok2 := args[2].(*types.Tuple)
	if !ok || !ok2 {
		return nil, fmt.Errorf("_rebuild_from_type_v2: unexpected arguments %s, %s", typeName(args[0]), typeName(args[2]))
	}
	return fn.Call(*fargs...)
}

func intTuple(v any) ([]int64, error) {
	t, ok := v.(*types.Tuple)
	if !ok {
		return nil, fmt.Errorf("%s, not a tuple", typeName(v))
	}
	out := make([]int64, t.Len())
	for i := range out {
		x, ok := t.Get(i).(int)
		if !ok {
			return nil, fmt.Errorf("element %d is %s, not an int", i, typeName(t.Get(i)))
		}
		out[i] = int64(x)
	}
	return out, nil
}

// findClass resolves the globals a state-dict pickle refers to. Anything
// else becomes a generic object, so that a pickled module or a checkpoint
// with extra objects still unpickles and gets a precise error afterwards.
func findClass(module, name string) (any, error) {
	switch module + "." + name {
	case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
		return rebuildTensor{}, nil
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		return rebuildParameter{}, nil
	case "torch._tensor._rebuild_from_type_v2":
		return rebuildFromType{}, nil
	}
	if module == "torch" {
		if dt, ok := storageClasses[name]; ok {
			return storageClass{dt}, nil
		}
	}
	return &pyClass{module, name}, nil
}

// pyClass is any other Python class or function named in the pickle. It
// can be called or instantiated, and its objects accept any state, so that
// a whole pickled model or a checkpoint holding other objects unpickles to
// the end; toStateDict then says what the file holds.
type pyClass struct{ module, name string }

type pyObject struct{ class *pyClass }

func (c *pyClass) Call(...any) (any, error)  { return &pyObject{c}, nil }
func (c *pyClass) PyNew(...any) (any, error) { return &pyObject{c}, nil }
func (o *pyObject) PySetState(any) error     { return nil }
func (o *pyObject) Set(any, any)             {}
func (o *pyObject) Append(any)               {}

// persistentStorage parses a storage persistent id, ('storage', class, key,
// location, numel[, view_metadata]), into a *storage (shared per key). A
// storage may not claim more than ratio times fileSize bytes (ratio is 1
// where storages are stored as they are, more where they may be deflated).
func persistentStorage(pid any, storages map[string]*storage, fileSize, ratio int64) (*storage, error) {
	t, ok := pid.(*types.Tuple)
	if !ok || t.Len() < 5 {
		return nil, fmt.Errorf("unexpected persistent id %s", short(pid))
	}
	if s, _ := t.Get(0).(string); s != "storage" {
		return nil, fmt.Errorf("unexpected persistent id of type %s", short(t.Get(0)))
	}
	cls, ok := t.Get(1).(storageClass)
	if !ok {
		if c, isClass := t.Get(1).(*pyClass); isClass {
			return nil, fmt.Errorf("storage type %s.%s is not supported (supported: float64/32/16, bfloat16, int64/32/16/8, uint8, bool)", short(c.module), short(c.name))
		}
		return nil, fmt.Errorf("unexpected storage type %s", short(t.Get(1)))
	}
	key, ok1 := t.Get(2).(string)
	numel, ok2 := t.Get(4).(int)
	if !ok1 || !ok2 || numel < 0 {
		return nil, fmt.Errorf("unexpected storage id %s", short(pid))
	}
	key = short(key)
	if es := int64(cls.dtype.Size()); int64(numel) > fileSize*ratio/es {
		return nil, fmt.Errorf("storage %s claims %d elements of %s, more than the whole file (%d bytes) can hold", key, numel, cls.dtype, fileSize)
	}
	if t.Len() >= 6 && t.Get(5) != nil {
		return nil, fmt.Errorf("storage %s is a storage view (written by a torch older than 1.0), not supported; load and save it again with a newer torch", key)
	}
	if st, ok := storages[key]; ok {
		if st.dtype != cls.dtype || st.numel != int64(numel) {
			return nil, fmt.Errorf("storage %s is used both as %s[%d] and %s[%d]", key, st.dtype, st.numel, cls.dtype, numel)
		}
		return st, nil
	}
	st := &storage{dtype: cls.dtype, key: key, numel: int64(numel)}
	storages[key] = st
	return st, nil
}

// unpickle checks the pickle at the start of b with scanPickle, then runs
// gopickle on it, turning any panic on malformed input into an error, and
// returns the object and the offset just past the pickle.
func unpickle(b []byte, persistentLoad func(any) (any, error)) (obj any, end int, err error) {
	end, _, err = scanPickle(b)
	if err != nil {
		return nil, 0, err
	}
	defer func() {
		if p := recover(); p != nil {
			obj, err = nil, fmt.Errorf("malformed pickle: %s", clip(fmt.Sprint(p), 200))
		}
	}()
	u := pickle.NewUnpickler(bytes.NewReader(b[:end]))
	u.FindClass = findClass
	u.PersistentLoad = persistentLoad
	obj, err = u.Load()
	if err != nil {
		// gopickle's messages may quote whole objects.
		return nil, 0, errors.New(clip(err.Error(), 200))
	}
	return obj, end, nil
}

func readTorchZip(r io.ReaderAt, fileSize int64) (*StateDict, error) {
	zr, err := zip.NewReader(r, fileSize)
	if err != nil {
		return nil, fmt.Errorf("not a readable zip archive (%v); the file is truncated or corrupt: save or download it again", err)
	}

	records := make(map[string]*zip.File, len(zr.File))
	var pkls []string
	for _, f := range zr.File {
		records[f.Name] = f
		if path.Base(f.Name) == "data.pkl" && strings.Count(f.Name, "/") == 1 {
			pkls = append(pkls, f.Name)
		}
		if path.Base(f.Name) == "constants.pkl" {
			return nil, errors.New("a TorchScript archive (torch.jit.save), not a state dict; in Python save torch.save(model.state_dict(), path) instead")
		}
	}
	if len(pkls) != 1 {
		what := "without a data.pkl record"
		if len(pkls) > 1 {
			what = fmt.Sprintf("with %d data.pkl records", len(pkls))
		}
		return nil, fmt.Errorf("a zip archive %s: not written by torch.save; expected the output of torch.save(model.state_dict(), path)", what)
	}
	prefix := short(strings.TrimSuffix(pkls[0], "data.pkl"))
	if bo, ok := records[prefix+"byteorder"]; ok {
		b, err := readRecord(bo, 16, fileSize)
		if err == nil && strings.TrimSpace(string(b)) == "big" {
			return nil, errors.New("saved on a big-endian machine, not supported; save it again on a little-endian one")
		}
	}
	pkl, err := readRecord(records[pkls[0]], maxPickleSize, fileSize)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %v; the file is corrupt: save or download it again", short(pkls[0]), err)
	}

	storages := map[string]*storage{}
	var loadErr error
	obj, _, err := unpickle(pkl, func(pid any) (any, error) {
		st, err := persistentStorage(pid, storages, fileSize, maxInflateRatio)
		if err != nil || st.data != nil {
			return st, err
		}
		name := prefix + "data/" + st.key
		rec, ok := records[name]
		if !ok {
			loadErr = fmt.Errorf("storage record %s is missing from the archive; the file is incomplete: save or download it again", name)
			return nil, loadErr
		}
		nbytes := st.numel * int64(st.dtype.Size())
		if int64(rec.UncompressedSize64) != nbytes {
			loadErr = fmt.Errorf("storage record %s has %d bytes, its %s[%d] storage needs %d; the file is corrupt: save or download it again", name, rec.UncompressedSize64, st.dtype, st.numel, nbytes)
			return nil, loadErr
		}
		st.data, err = readRecord(rec, nbytes, fileSize)
		if err != nil {
			loadErr = fmt.Errorf("reading storage record %s: %v; the file is truncated or corrupt: save or download it again", name, err)
			return nil, loadErr
		}
		return st, nil
	})
	if loadErr != nil {
		return nil, loadErr
	}
	if err != nil {
		return nil, fmt.Errorf("unpickling %s: %v; expected the output of torch.save(model.state_dict(), path)", short(pkls[0]), err)
	}
	return toStateDict(obj, copyBudget(fileSize))
}

// Limits on what a file may make this package allocate.
const (
	// maxPickleSize bounds data.pkl: a state dict of thousands of tensors
	// pickles to about a megabyte.
	maxPickleSize = 64 << 20
	// maxInflateRatio is deflate's own bound on how far a record may
	// inflate (about 1032:1), rounded up.
	maxInflateRatio = 1100
	// maxDims bounds a tensor's rank (PyTorch's own limit is 25).
	maxDims = 64
	// viewCopySlack is what strided views may copy out beyond twice the
	// file's size (see copyBudget).
	viewCopySlack = 64 << 20
)

// copyBudget is how many bytes the views of a file of fileSize bytes may
// copy out in all: a view that repeats elements (a zero stride, as
// expand() makes) or several views of one storage legitimately come to more
// than the file, but a 500-byte file must not describe gigabytes.
func copyBudget(fileSize int64) int64 { return 2*fileSize + viewCopySlack }

// readRecord reads a whole zip record of at most limit bytes, checking its
// CRC. The sizes the archive declares are checked against the file's size
// before anything is allocated, and the record is read through a
// LimitReader, so a record claiming terabytes costs nothing.
func readRecord(f *zip.File, limit, fileSize int64) ([]byte, error) {
	size := f.UncompressedSize64
	if size > uint64(limit) {
		return nil, fmt.Errorf("record %s claims %d bytes, over the %d it may have", short(f.Name), size, limit)
	}
	off, err := f.DataOffset()
	if err != nil {
		return nil, err
	}
	if off < 0 || off > fileSize || f.CompressedSize64 > uint64(fileSize-off) {
		return nil, fmt.Errorf("record %s claims %d bytes at byte %d of a %d-byte file", short(f.Name), f.CompressedSize64, off, fileSize)
	}
	switch f.Method {
	case zip.Store:
		if size != f.CompressedSize64 {
			return nil, fmt.Errorf("stored record %s claims %d bytes uncompressed but holds %d", short(f.Name), size, f.CompressedSize64)
		}
	case zip.Deflate:
		if size > maxInflateRatio*f.CompressedSize64+1024 {
			return nil, fmt.Errorf("record %s claims %d bytes from %d compressed, more than deflate can inflate to", short(f.Name), size, f.CompressedSize64)
		}
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b := make([]byte, size)
	if _, err := io.ReadFull(io.LimitReader(rc, int64(size)), b); err != nil {
		return nil, err
	}
	// Reading to EOF makes archive/zip verify the CRC-32.
	var one [1]byte
	if _, err := rc.Read(one[:]); err != io.EOF {
		if err == nil {
			err = errors.New("record longer than its header says")
		}
		return nil, err
	}
	return b, nil
}

// Legacy format constants (torch/serialization.py).
const (
	legacyMagic    = "1950a86a20f9469cfc6c"
	legacyProtocol = 1001
)

func readTorchLegacy(r io.ReaderAt, size int64) (*StateDict, error) {
	buf := make([]byte, size)
	if _, err := r.ReadAt(buf, 0); err != nil {
		return nil, err
	}
	pos := 0
	next := func(persistentLoad func(any) (any, error)) (any, error) {
		obj, n, err := unpickle(buf[pos:], persistentLoad)
		pos += n
		return obj, err
	}
	notTorch := "not a PyTorch file (a pickle without the torch.save header); expected the output of torch.save(model.state_dict(), path)"
	magic, err := next(nil)
	if err != nil {
		return nil, fmt.Errorf("reading the header: %v; the file is truncated or not a PyTorch file", err)
	}
	if m, ok := magic.(*big.Int); !ok || m.Text(16) != legacyMagic {
		return nil, errors.New(notTorch)
	}
	if v, err := next(nil); err != nil || v != legacyProtocol {
		return nil, fmt.Errorf("legacy torch.save protocol %s, want %d; save it again with torch >= 1.6", short(v), legacyProtocol)
	}
	sysInfo, err := next(nil)
	if err != nil {
		return nil, fmt.Errorf("reading the header: %v; the file is truncated or corrupt: save or download it again", err)
	}
	if d, ok := sysInfo.(*types.Dict); ok {
		if le, ok := d.Get("little_endian"); ok && le == false {
			return nil, errors.New("saved on a big-endian machine, not supported; save it again on a little-endian one")
		}
	}
	storages := map[string]*storage{}
	obj, err := next(func(pid any) (any, error) {
		if t, ok := pid.(*types.Tuple); ok && t.Len() > 0 && t.Get(0) == "module" {
			return nil, errors.New("holds a pickled nn.Module class")
		}
		return persistentStorage(pid, storages, int64(len(buf)), 1)
	})
	if err != nil {
		return nil, fmt.Errorf("unpickling: %v; expected the output of torch.save(model.state_dict(), path), or the file is truncated", err)
	}
	keysObj, err := next(nil)
	if err != nil {
		return nil, fmt.Errorf("reading the storage list: %v; the file is truncated or corrupt: save or download it again", err)
	}
	keys, ok := keysObj.(*types.List)
	if !ok {
		return nil, fmt.Errorf("the storage list is %s, not a list; the file is corrupt", typeName(keysObj))
	}
	for _, k := range *keys {
		key, _ := k.(string)
		st, ok := storages[short(key)]
		if !ok {
			return nil, fmt.Errorf("storage %s is listed but not used; the file is corrupt", short(k))
		}
		if st.data != nil {
			return nil, fmt.Errorf("storage %s is listed twice; the file is corrupt", st.key)
		}
		// persistentStorage bounded nbytes by the file's size.
		nbytes := int(st.numel) * st.dtype.Size()
		if len(buf)-pos < 8 || len(buf)-pos-8 < nbytes {
			return nil, fmt.Errorf("storage %s is cut off at byte %d; the file is truncated: save or download it again", key, len(buf))
		}
		if n := int64(binary.LittleEndian.Uint64(buf[pos:])); n != st.numel {
			return nil, fmt.Errorf("storage %s has %d elements on disk, %d in the pickle; the file is corrupt", key, n, st.numel)
		}
		pos += 8
		st.data = buf[pos : pos+nbytes : pos+nbytes]
		pos += nbytes
	}
	for key, st := range storages {
		if st.data == nil {
			return nil, fmt.Errorf("storage %s is missing; the file is truncated or corrupt: save or download it again", key)
		}
	}
	return toStateDict(obj, copyBudget(int64(len(buf))))
}

// toStateDict turns the unpickled object into a StateDict, or explains what
// the file holds instead.
func toStateDict(obj any, budget int64) (*StateDict, error) {
	type kv struct {
		k any
		v any
	}
	var entries []kv
	switch d := obj.(type) {
	case *types.OrderedDict:
		for e := d.List.Front(); e != nil; e = e.Next() {
			oe := e.Value.(*types.OrderedDictEntry)
			entries = append(entries, kv{oe.Key, oe.Value})
		}
	case *types.Dict:
		for _, e := range *d {
			entries = append(entries, kv{e.Key, e.Value})
		}
	default:
		return nil, fmt.Errorf("holds %s, not a state dict; in Python save torch.save(model.state_dict(), path)", describe(obj))
	}

	sd := NewStateDict()
	var notTensor []string
	var nested []string
	for _, e := range entries {
		name, ok := e.k.(string)
		if !ok {
			return nil, fmt.Errorf("holds a dict with a non-string key %s, not a state dict", short(e.k))
		}
		name = short(name)
		ref, ok := e.v.(*tensorRef)
		if !ok {
			notTensor = append(notTensor, name)
			switch e.v.(type) {
			case *types.OrderedDict, *types.Dict:
				nested = append(nested, name)
			}
			continue
		}
		t, err := ref.materialize(&budget)
		if err != nil {
			return nil, fmt.Errorf("tensor %s: %v; the file is corrupt", name, err)
		}
		sd.Set(name, t)
	}
	if len(notTensor) > 0 {
		msg := fmt.Sprintf("holds a dict whose entries %s are not tensors, not a state dict", listKeys(notTensor, 5))
		if sd.Len() == 0 && len(nested) > 0 {
			msg += fmt.Sprintf(" (a training checkpoint? its state dict may be under %q); in Python save torch.save(ckpt[%q], path)", nested[0], nested[0])
		} else {
			msg += "; in Python save torch.save(model.state_dict(), path)"
		}
		return nil, errors.New(msg)
	}
	return sd, nil
}

func describe(obj any) string {
	switch o := obj.(type) {
	case *types.List:
		return "a list"
	case *types.Tuple:
		return "a tuple"
	case *tensorRef:
		return "a single tensor"
	case *pyObject:
		return fmt.Sprintf("a pickled %s.%s object (a whole model?)", o.class.module, o.class.name)
	case nil:
		return "None"
	}
	return "a " + typeName(obj)
}

// typeName is the Go type of a value from a pickle, for messages.
func typeName(v any) string { return fmt.Sprintf("%T", v) }

// short formats a value from a file for a one-line message: as it is when
// that is short and printable, else quoted and cut.
func short(v any) string {
	s, ok := v.(string)
	if !ok {
		s = fmt.Sprint(v)
	}
	return clip(s, 80)
}

// clip returns s unchanged when it is at most n bytes of printable text,
// else a quoted prefix of it followed by "…".
func clip(s string, n int) string {
	printable := len(s) <= n
	for _, r := range s {
		if !printable || !strconv.IsPrint(r) {
			printable = false
			break
		}
	}
	if printable {
		return s
	}
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "…"
	}
	return strconv.Quote(s)
}

// listKeys formats up to max names, then "and N more".
func listKeys(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:max], ", "), len(names)-max)
}

// plural is word, or word+"s" unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// materialize copies the strided view out into a dense row-major tensor,
// taking the bytes it copies from *budget. A contiguous view alone on its
// storage shares the storage's bytes and copies nothing.
func (r *tensorRef) materialize(budget *int64) (*Tensor, error) {
	st := r.st
	es := int64(st.dtype.Size())
	numel := NumElements(r.size)
	if numel < 0 {
		return nil, fmt.Errorf("invalid size %v", r.size)
	}
	t := &Tensor{DType: st.dtype, Shape: slices.Clone(r.size)}
	if numel == 0 {
		t.Data = []byte{}
		return t, nil
	}
	// Bounds: every step the view takes must stay inside the storage;
	// room is how far it may still go, so nothing overflows.
	past := fmt.Errorf("view (offset %d, size %v, stride %v) runs past its storage of %d elements", r.offset, r.size, r.stride, st.numel)
	if r.offset < 0 || r.offset >= st.numel {
		return nil, past
	}
	room := st.numel - 1 - r.offset
	for i, d := range r.size {
		s := r.stride[i]
		if s < 0 {
			return nil, fmt.Errorf("negative stride %v", r.stride)
		}
		if d > 1 && s > 0 {
			if s > room/(d-1) {
				return nil, past
			}
			room -= (d - 1) * s
		}
	}
	contiguous := r.contiguous()
	if contiguous && st.refs == 1 {
		t.Data = st.data[r.offset*es : (r.offset+numel)*es : (r.offset+numel)*es]
		return t, nil
	}
	if numel > *budget/es {
		return nil, fmt.Errorf("a view of %d elements (size %v, stride %v) over a storage of %d: copied out, the file's views would come to more than %d bytes, which a file of this size cannot legitimately describe", numel, r.size, r.stride, st.numel, *budget)
	}
	*budget -= numel * es
	if contiguous {
		t.Data = slices.Clone(st.data[r.offset*es : (r.offset+numel)*es])
		return t, nil
	}
	t.Data = make([]byte, 0, numel*es)
	t.Data = gather(t.Data, st.data, es, r.offset, r.size, r.stride)
	return t, nil
}

func (r *tensorRef) contiguous() bool {
	want := int64(1)
	for i := len(r.size) - 1; i >= 0; i-- {
		if r.size[i] != 1 && r.stride[i] != want {
			return false
		}
		want *= r.size[i]
	}
	return true
}

// gather appends the elements of the strided view to dst in row-major order.
func gather(dst, src []byte, es, off int64, size, stride []int64) []byte {
	if len(size) == 0 {
		return append(dst, src[off*es:(off+1)*es]...)
	}
	if len(size) == 1 {
		if stride[0] == 1 {
			return append(dst, src[off*es:(off+size[0])*es]...)
		}
		for i := int64(0); i < size[0]; i++ {
			p := (off + i*stride[0]) * es
			dst = append(dst, src[p:p+es]...)
		}
		return dst
	}
	for i := int64(0); i < size[0]; i++ {
		dst = gather(dst, src, es, off+i*stride[0], size[1:], stride[1:])
	}
	return dst
}
