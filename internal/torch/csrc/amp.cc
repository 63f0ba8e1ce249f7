// Mixed precision: libtorch's autocast state (per OS thread), the loss
// scaler's unscale-and-check, cuDNN autotuning, and inference mode.
#include <ATen/autocast_mode.h>
#include <c10/core/InferenceMode.h>
#include <torch/version.h>

#include "internal.h"

namespace {

// libtorch 2.4 replaced the per-device-type functions (is_enabled for CUDA,
// is_cpu_enabled, get_autocast_gpu_dtype, ...) by ones taking a device type
// and deprecated the old ones; 1.13 has only the old ones.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define RT_AUTOCAST_BY_DEVICE 1
at::DeviceType autocast_type(int cuda) { return cuda ? at::kCUDA : at::kCPU; }
#endif

bool autocast_enabled(int cuda) {
#ifdef RT_AUTOCAST_BY_DEVICE
  return at::autocast::is_autocast_enabled(autocast_type(cuda));
#else
  return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

void set_autocast_enabled(int cuda, bool on) {
#ifdef RT_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_enabled(autocast_type(cuda), on);
#else
  if (cuda) {
    at::autocast::set_enabled(on);
  } else {
    at::autocast::set_cpu_enabled(on);
  }
#endif
}

at::ScalarType autocast_dtype(int cuda) {
#ifdef RT_AUTOCAST_BY_DEVICE
  return at::autocast::get_autocast_dtype(autocast_type(cuda));
#else
  return cuda ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}

void set_autocast_dtype(int cuda, at::ScalarType t) {
#ifdef RT_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_dtype(autocast_type(cuda), t);
#else
  if (cuda) {
    at::autocast::set_autocast_gpu_dtype(t);
  } else {
    at::autocast::set_autocast_cpu_dtype(t);
  }
#endif
}

}  // namespace

extern "C" {

int rt_autocast_enabled(int cuda) { return autocast_enabled(cuda) ? 1 : 0; }

int rt_autocast_dtype(int cuda) { return static_cast<int>(autocast_dtype(cuda)); }

// As torch.autocast.__enter__: CPU autocast takes bfloat16 only (libtorch
// 1.13 refuses float16 there at the first op; refused here instead).
char* rt_autocast_enter(int cuda, int enabled, int dtype) {
  RT_TRY({
    auto t = static_cast<at::ScalarType>(dtype);
    TORCH_CHECK(t == at::kBFloat16 || t == at::kHalf, "autocast to ", t, ": want bfloat16 or float16");
    TORCH_CHECK(cuda || t == at::kBFloat16 || !enabled,
                "float16 autocast needs a CUDA device (on the CPU libtorch autocasts to bfloat16 only)");
    set_autocast_enabled(cuda, enabled != 0);
    set_autocast_dtype(cuda, t);
    at::autocast::increment_nesting();
  })
}

// As torch.autocast.__exit__: restores the state saved by the caller and,
// when the outermost region closes, drops the cache of low-precision weight
// copies (they go stale once the optimiser updates the weights).
char* rt_autocast_exit(int cuda, int prev_enabled, int prev_dtype) {
  RT_TRY({
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    set_autocast_enabled(cuda, prev_enabled != 0);
    set_autocast_dtype(cuda, static_cast<at::ScalarType>(prev_dtype));
  })
}

// GradScaler's unscale_: grad *= inv_scale for every param with a grad, and
// *found_inf = 1 when any of them holds an inf or NaN (after unscaling, as
// torch._amp_foreach_non_finite_check_and_unscale_). All grads must be on
// one device; the flag is read back once, at the end.
char* rt_amp_unscale_grads(rt_tensor** params, int n, double inv_scale, int* found_inf) {
  RT_TRY({
    std::vector<at::Tensor> grads;
    for (int i = 0; i < n; i++) {
      const at::Tensor& g = rt::ref(params[i]).grad();
      if (g.defined()) grads.push_back(g);
    }
    *found_inf = 0;
    if (grads.empty()) return nullptr;
    auto dev = grads[0].device();
    at::Tensor found = at::zeros({1}, at::TensorOptions().dtype(at::kFloat).device(dev));
    at::NoGradGuard no_grad;
    if (dev.is_cuda()) {
      at::Tensor inv = at::full({1}, inv_scale, at::TensorOptions().dtype(at::kFloat).device(dev));
      at::_amp_foreach_non_finite_check_and_unscale_(grads, found, inv);
    } else {
      // libtorch 1.13 has that kernel for CUDA only; the same on any device.
      float inv = static_cast<float>(inv_scale);
      for (auto& g : grads) {
        g.mul_(inv);
        found = at::maximum(found, at::logical_not(at::isfinite(g)).any().to(at::kFloat).reshape({1}));
      }
    }
    *found_inf = found.item<float>() != 0 ? 1 : 0;
  })
}

void rt_set_cudnn_benchmark(int on) { at::globalContext().setBenchmarkCuDNN(on != 0); }

int rt_cudnn_benchmark(void) { return at::globalContext().benchmarkCuDNN() ? 1 : 0; }

int rt_allow_tf32_matmul(void) { return at::globalContext().allowTF32CuBLAS() ? 1 : 0; }

int rt_allow_tf32_cudnn(void) { return at::globalContext().allowTF32CuDNN() ? 1 : 0; }

// Inference mode (torch.inference_mode) on this OS thread: ops skip
// autograd's bookkeeping (version counters, view tracking) that no_grad
// still does. Tensors made in it can never enter a graph later.
void* rt_inference_mode_enter(void) { return new c10::InferenceMode(true); }

void rt_inference_mode_exit(void* guard) { delete static_cast<c10::InferenceMode*>(guard); }

}  // extern "C"
