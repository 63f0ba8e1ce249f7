// Package weights reads and writes model weights in pure Go (no cgo): the
// project's own safetensors files, PyTorch state dicts saved with
// torch.save, and the check of a state dict against the keys a model
// expects. The model layer copies the resulting byte slices into
// libtorch tensors.
//
// In memory a tensor is a Tensor (dtype, shape, dense row-major
// little-endian bytes) and a set of named tensors is a StateDict, which
// keeps insertion order and uses PyTorch's state_dict keys
// ("features.0.weight").
//
// # Files
//
//   - ReadFile: either format, told apart by the first bytes.
//   - ReadSafetensorsFile, WriteSafetensors, WriteFileAtomic: safetensors,
//     with a string→string __metadata__ map (the project keeps its resolved
//     config and format version there). WriteFileAtomic never leaves a
//     partial file at the destination.
//   - ReadPyTorchFile: torch.save output, zip format (torch >= 1.6) and the
//     legacy format.
//
// Errors about a file are one line that starts with the file name and,
// where there is one, says what to do.
//
// A corrupt or hostile file cannot make a reader allocate much more than
// the file's size plus the tensors it describes: every length, count,
// offset and stride is checked against the file's size before anything is
// allocated (picklescan.go walks a pickle before gopickle runs it), and
// what strided views copy out is bounded by twice the file's size plus
// 64 MiB. internal/hostile holds a file for each way this used to fail.
//
// # Why safetensors is written here, not imported
//
// github.com/nlpodyssey/safetensors (v0.0.0-20250209183917-bfb01cc25f7c)
// reads and writes valid files, but it was not taken: it has no tagged
// release, only pseudo-versions; it brings its own DType and View types,
// which would either leak into the model layer or need an adapter; its
// reader wants the whole file as one []byte and forgets the header's key
// order; its writer emits the header through a Go map, so keys come out
// alphabetically and HTML-escaped instead of in the reference writer's
// order; and its errors are generic. The format is small: safetensors.go
// (about 350 lines with comments) streams tensors from and to files, lays
// files out exactly as the reference writer does (tensors by descending
// dtype alignment then name, compact JSON with __metadata__ first, space
// padding to 8 bytes; rewriting a file written that way in Python gives
// identical bytes), enforces what the reference reader enforces (offsets
// tile the data section, sizes match shapes, header under 100 MB), and is
// tested against Python on both sides.
//
// # PyTorch files
//
// Unpickling uses github.com/nlpodyssey/gopickle's pickle package, with
// this package's own handling of torch's storages and tensor rebuilds
// rather than gopickle's pytorch.Load: pytorch.Load decodes every storage
// element by element into typed Go slices (float16 and bfloat16 become
// float32, so the dtype is lost), panics on some legacy files, and its
// errors do not say which record or file failed. Here storages are read as
// raw bytes straight from the archive (CRC-checked), strided views are
// copied out row-major, and anything that is not a flat dict of tensors (a
// pickled module, a list, a training checkpoint) is reported as such.
//
// # Key checks
//
// MatchKeys checks a StateDict against the entries a model expects
// (KeyShape: name, shape, dtype), skipping prefixes such as an ImageNet
// classifier's, and names every missing, unexpected or mis-shaped key in
// one error. What a backbone expects (torchvision's state_dict names of
// VGG, ResNet, ...) lives with that backbone in internal/model, not here.
package weights
