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
	var magic [4]byte
	n, _ := io.ReadFull(f, magic[:])
	f.Close()
	var sd *StateDict
	switch {
	case n < 4:
		err = tooShort(n)
	case string(magic[:]) == "PK\x03\x04":
		sd, err = readTorchZip(filename)
	case magic[0] == 0x80 && magic[1] >= 2 && magic[1] <= 5:
		sd, err = readTorchLegacy(filename)
	default:
		err = errors.New("not a PyTorch file (neither a zip archive nor a pickle); expected the output of torch.save(model.state_dict(), path)")
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	return sd, nil
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
		return nil, fmt.Errorf("_rebuild_tensor: argument 1 is %T, not a storage", args[0])
	}
	off, ok := args[1].(int)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor: storage offset is %T, not an int", args[1])
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
		return nil, fmt.Errorf("_rebuild_tensor: size %v and stride %v differ in rank", size, stride)
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
		return nil, fmt.Errorf("_rebuild_from_type_v2: unexpected arguments %T, %T", args[0], args[2])
	}
	return fn.Call(*fargs...)
}

func intTuple(v any) ([]int64, error) {
	t, ok := v.(*types.Tuple)
	if !ok {
		return nil, fmt.Errorf("%T, not a tuple", v)
	}
	out := make([]int64, t.Len())
	for i := range out {
		x, ok := t.Get(i).(int)
		if !ok {
			return nil, fmt.Errorf("element %d is %T, not an int", i, t.Get(i))
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
// location, numel[, view_metadata]), into a *storage (shared per key).
func persistentStorage(pid any, storages map[string]*storage) (*storage, error) {
	t, ok := pid.(*types.Tuple)
	if !ok || t.Len() < 5 {
		return nil, fmt.Errorf("unexpected persistent id %v", pid)
	}
	if s, _ := t.Get(0).(string); s != "storage" {
		return nil, fmt.Errorf("unexpected persistent id of type %v", t.Get(0))
	}
	cls, ok := t.Get(1).(storageClass)
	if !ok {
		if c, isClass := t.Get(1).(*pyClass); isClass {
			return nil, fmt.Errorf("storage type %s.%s is not supported (supported: float64/32/16, bfloat16, int64/32/16/8, uint8, bool)", c.module, c.name)
		}
		return nil, fmt.Errorf("unexpected storage type %v", t.Get(1))
	}
	key, ok1 := t.Get(2).(string)
	numel, ok2 := t.Get(4).(int)
	if !ok1 || !ok2 || numel < 0 {
		return nil, fmt.Errorf("unexpected storage id %v", pid)
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

// unpickle runs gopickle on r, turning any panic on malformed input into
// an error.
func unpickle(r io.Reader, persistentLoad func(any) (any, error)) (obj any, err error) {
	defer func() {
		if p := recover(); p != nil {
			obj, err = nil, fmt.Errorf("malformed pickle: %v", p)
		}
	}()
	u := pickle.NewUnpickler(r)
	u.FindClass = findClass
	u.PersistentLoad = persistentLoad
	return u.Load()
}

func readTorchZip(filename string) (*StateDict, error) {
	zr, err := zip.OpenReader(filename)
	if err != nil {
		return nil, fmt.Errorf("not a readable zip archive (%v); the file is truncated or corrupt: save or download it again", err)
	}
	defer zr.Close()

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
	prefix := strings.TrimSuffix(pkls[0], "data.pkl")
	if bo, ok := records[prefix+"byteorder"]; ok {
		b, err := readRecord(bo, 16)
		if err == nil && strings.TrimSpace(string(b)) == "big" {
			return nil, errors.New("saved on a big-endian machine, not supported; save it again on a little-endian one")
		}
	}
	pkl, err := readRecord(records[pkls[0]], 1<<30)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %v; the file is corrupt: save or download it again", pkls[0], err)
	}

	storages := map[string]*storage{}
	var loadErr error
	obj, err := unpickle(bytes.NewReader(pkl), func(pid any) (any, error) {
		st, err := persistentStorage(pid, storages)
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
		st.data, err = readRecord(rec, nbytes)
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
		return nil, fmt.Errorf("unpickling %s: %v; expected the output of torch.save(model.state_dict(), path)", pkls[0], err)
	}
	return toStateDict(obj)
}

// readRecord reads a whole zip record of at most limit bytes, checking its
// CRC.
func readRecord(f *zip.File, limit int64) ([]byte, error) {
	if int64(f.UncompressedSize64) > limit {
		return nil, fmt.Errorf("record %s is %d bytes, over %d", f.Name, f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b := make([]byte, f.UncompressedSize64)
	if _, err := io.ReadFull(rc, b); err != nil {
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

func readTorchLegacy(filename string) (*StateDict, error) {
	buf, err := os.ReadFile(filename)
	if err != nil {
		return nil, err
	}
	r := bytes.NewReader(buf)
	notTorch := "not a PyTorch file (a pickle without the torch.save header); expected the output of torch.save(model.state_dict(), path)"
	magic, err := unpickle(r, nil)
	if err != nil {
		return nil, fmt.Errorf("reading the header: %v; the file is truncated or not a PyTorch file", err)
	}
	if m, ok := magic.(*big.Int); !ok || m.Text(16) != legacyMagic {
		return nil, errors.New(notTorch)
	}
	if v, err := unpickle(r, nil); err != nil || v != legacyProtocol {
		return nil, fmt.Errorf("legacy torch.save protocol %v, want %d; save it again with torch >= 1.6", v, legacyProtocol)
	}
	sysInfo, err := unpickle(r, nil)
	if err != nil {
		return nil, fmt.Errorf("reading the header: %v; the file is truncated or corrupt: save or download it again", err)
	}
	if d, ok := sysInfo.(*types.Dict); ok {
		if le, ok := d.Get("little_endian"); ok && le == false {
			return nil, errors.New("saved on a big-endian machine, not supported; save it again on a little-endian one")
		}
	}
	storages := map[string]*storage{}
	obj, err := unpickle(r, func(pid any) (any, error) {
		if t, ok := pid.(*types.Tuple); ok && t.Len() > 0 && t.Get(0) == "module" {
			return nil, errors.New("holds a pickled nn.Module class")
		}
		return persistentStorage(pid, storages)
	})
	if err != nil {
		return nil, fmt.Errorf("unpickling: %v; expected the output of torch.save(model.state_dict(), path), or the file is truncated", err)
	}
	keysObj, err := unpickle(r, nil)
	if err != nil {
		return nil, fmt.Errorf("reading the storage list: %v; the file is truncated or corrupt: save or download it again", err)
	}
	keys, ok := keysObj.(*types.List)
	if !ok {
		return nil, fmt.Errorf("the storage list is %T, not a list; the file is corrupt", keysObj)
	}
	pos := int64(len(buf) - r.Len())
	for _, k := range *keys {
		key, _ := k.(string)
		st, ok := storages[key]
		if !ok {
			return nil, fmt.Errorf("storage %v is listed but not used; the file is corrupt", k)
		}
		nbytes := st.numel * int64(st.dtype.Size())
		if pos+8+nbytes > int64(len(buf)) {
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
	return toStateDict(obj)
}

// toStateDict turns the unpickled object into a StateDict, or explains what
// the file holds instead.
func toStateDict(obj any) (*StateDict, error) {
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
			return nil, fmt.Errorf("holds a dict with a non-string key %v, not a state dict", e.k)
		}
		ref, ok := e.v.(*tensorRef)
		if !ok {
			notTensor = append(notTensor, name)
			switch e.v.(type) {
			case *types.OrderedDict, *types.Dict:
				nested = append(nested, name)
			}
			continue
		}
		t, err := ref.materialize()
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
	return fmt.Sprintf("a %T", obj)
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

// materialize copies the strided view out into a dense row-major tensor.
func (r *tensorRef) materialize() (*Tensor, error) {
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
	// Bounds: the largest element index the view touches.
	last := r.offset
	for i, d := range r.size {
		if r.stride[i] < 0 {
			return nil, fmt.Errorf("negative stride %v", r.stride)
		}
		last += (d - 1) * r.stride[i]
	}
	if r.offset < 0 || last >= st.numel {
		return nil, fmt.Errorf("view (offset %d, size %v, stride %v) runs past its storage of %d elements", r.offset, r.size, r.stride, st.numel)
	}
	if r.contiguous() {
		b := st.data[r.offset*es : (r.offset+numel)*es : (r.offset+numel)*es]
		if st.refs > 1 {
			b = slices.Clone(b)
		}
		t.Data = b
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
