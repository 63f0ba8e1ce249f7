// Process-wide runtime: seeds, threads, devices, version.
#include <malloc.h>

#include <atomic>
#include <torch/cuda.h>
#include <torch/version.h>

#include "internal.h"

extern "C" {

char* rt_manual_seed(uint64_t seed) { RT_TRY(torch::manual_seed(seed)) }

void rt_set_num_threads(int n) {
  if (n > 0) at::set_num_threads(n);
}

int rt_get_num_threads(void) { return at::get_num_threads(); }

int rt_cuda_is_available(void) {
  try {
    return torch::cuda::is_available() ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

int rt_cuda_device_count(void) {
  try {
    return static_cast<int>(torch::cuda::device_count());
  } catch (...) {
    return 0;
  }
}

char* rt_cuda_synchronize(int device) { RT_TRY(torch::cuda::synchronize(device)) }

// Parses a device name and checks that this libtorch can use it. Its
// messages do not repeat the name: the caller's error names the device.
char* rt_check_device(const char* name) {
  RT_TRY({
    TORCH_CHECK(name != nullptr, "no device name");
    at::Device d{std::string(name)};
    if (d.is_cuda()) {
      TORCH_CHECK(torch::cuda::is_available(),
                  "this libtorch has no CUDA or no GPU is visible (rebuild the shim against a CUDA libtorch: "
                  "make shim LIBTORCH=/path/to/libtorch)");
      int n = static_cast<int>(torch::cuda::device_count());
      TORCH_CHECK(!d.has_index() || d.index() < n, "only ", n, " CUDA device(s)");
    } else {
      TORCH_CHECK(d.is_cpu(), "not supported (use cpu, cuda or cuda:N)");
    }
  })
}

char* rt_version(char** s) { RT_TRY(*s = rt::dup(TORCH_VERSION)) }

// A training step allocates the same large activation and gradient blocks
// every step. With glibc's defaults, blocks over the (dynamic) mmap threshold
// are fresh mmaps and freed heap tops are given back to the OS, so every step
// page-faults its working set in again; racnn frees a step's tensors together
// when its Scope closes, on a non-main thread's arena, which makes this worse
// than in Python (measured: ~48k page faults and +15% time per step of the
// benchmark in scripts/bench-binding.sh). Keeping freed memory for reuse, as
// PyTorch's caching allocators do on GPUs, removes that: blocks up to 32 MiB
// (glibc's maximum threshold) come from the heap, and up to 1 GiB of free
// heap is kept rather than trimmed.
int rt_tune_malloc(void) {
#ifdef __GLIBC__
  const char* tun = std::getenv("GLIBC_TUNABLES");
  if ((tun != nullptr && std::strstr(tun, "glibc.malloc.") != nullptr) || std::getenv("MALLOC_TRIM_THRESHOLD_") ||
      std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TOP_PAD_")) {
    return 0;  // the user's choice wins
  }
  int ok = mallopt(M_MMAP_THRESHOLD, 32 << 20);
  ok = mallopt(M_TRIM_THRESHOLD, 1 << 30) && ok;
  return ok ? 1 : 0;
#else
  return 0;
#endif
}

void rt_set_allow_tf32(int matmul, int cudnn) {
  at::globalContext().setAllowTF32CuBLAS(matmul != 0);
  at::globalContext().setAllowTF32CuDNN(cudnn != 0);
}

void rt_noop(void) {}

uint64_t rt_thread_id(void) {
  static std::atomic<uint64_t> next{1};
  thread_local uint64_t id = next.fetch_add(1, std::memory_order_relaxed);
  return id;
}

}  // extern "C"
