// Process-wide runtime: seeds, threads, devices, version.
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

// Parses a device name and checks that this libtorch can use it.
char* rt_check_device(const char* name) {
  RT_TRY({
    at::Device d = rt::device(name);
    if (d.is_cuda()) {
      TORCH_CHECK(torch::cuda::is_available(), "racnn: device ", name,
                  ": this libtorch has no CUDA or no GPU is visible (rebuild the shim against a CUDA libtorch: "
                  "LIBTORCH=/path make shim)");
      int n = static_cast<int>(torch::cuda::device_count());
      TORCH_CHECK(!d.has_index() || d.index() < n, "racnn: device ", name, ": only ", n, " CUDA device(s)");
    } else {
      TORCH_CHECK(d.is_cpu(), "racnn: device ", name, " is not supported (use cpu, cuda or cuda:N)");
    }
  })
}

char* rt_version(char** s) { RT_TRY(*s = rt::dup(TORCH_VERSION)) }

void rt_noop(void) {}

}  // extern "C"
