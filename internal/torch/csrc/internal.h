// Shared by the shim's C++ sources only; never included from Go.
#pragma once

#include <torch/torch.h>

#include <cstring>
#include <string>
#include <vector>

#include "rt.h"

struct rt_tensor {
  rt_tensor_head head;  // first, so Go can read it through an rt_tensor_head*
  at::Tensor t;
};

namespace rt {

inline char* dup(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

inline rt_tensor* wrap(at::Tensor t) { return new rt_tensor{{rt_thread_id()}, std::move(t)}; }

// A borrowed handle must not be NULL: Go passes NULL only where the header
// says an argument is optional.
inline const at::Tensor& ref(rt_tensor* h) {
  TORCH_CHECK(h != nullptr, "NULL tensor handle (freed or never set)");
  return h->t;
}

inline c10::optional<at::Tensor> opt(rt_tensor* h) {
  if (h == nullptr) return c10::nullopt;
  return h->t;
}

inline at::IntArrayRef ints(const int64_t* p, int n) { return at::IntArrayRef(p, static_cast<size_t>(n)); }

// Parses a device name. A CUDA device on a libtorch without CUDA (or without
// a visible GPU) is refused here with a clear message, rather than by the
// dispatcher's "Could not run 'aten::empty' with arguments from the 'CUDA'
// backend" and its list of backends.
inline at::Device device(const char* name) {
  if (name == nullptr) return at::Device(at::kCPU);
  at::Device d{std::string(name)};
  TORCH_CHECK(!d.is_cuda() || at::hasCUDA(), "device ", name,
              ": this libtorch has no CUDA or no GPU is visible (rebuild the shim against a CUDA libtorch: "
              "make shim LIBTORCH=/path/to/libtorch)");
  return d;
}

// libtorch's message for the caller: without the C++ backtrace, and cut at
// the first blank line (the dispatcher appends a long per-backend listing
// there; the first paragraph says what went wrong).
inline char* message(const c10::Error& e) {
  std::string m = e.what_without_backtrace();
  auto cut = m.find("\n\n");
  if (cut != std::string::npos) m.resize(cut);
  return dup(m);
}

inline at::TensorOptions opts(int dtype, const char* dev) {
  return at::TensorOptions().dtype(static_cast<at::ScalarType>(dtype)).device(device(dev));
}

}  // namespace rt

// Every exported body runs inside RT_TRY: libtorch's message (see
// rt::message) becomes the returned string; nothing is thrown across C.
#define RT_TRY(...)                                          \
  try {                                                      \
    __VA_ARGS__;                                             \
    return nullptr;                                          \
  } catch (const c10::Error& e) {                            \
    return rt::message(e);                                   \
  } catch (const std::exception& e) {                        \
    return rt::dup(e.what());                                \
  } catch (...) {                                            \
    return rt::dup("unknown C++ exception");                 \
  }
