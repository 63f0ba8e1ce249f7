// Autograd: requires_grad, backward, grads, detach and the grad mode.
#include "internal.h"

extern "C" {

char* rt_set_requires_grad(rt_tensor* t, int on) {
  RT_TRY({
    at::Tensor x = rt::ref(t);
    x.set_requires_grad(on != 0);
  })
}

char* rt_requires_grad(rt_tensor* t, int* on) { RT_TRY(*on = rt::ref(t).requires_grad()) }

char* rt_backward(rt_tensor* t, rt_tensor* grad, int retain_graph) {
  RT_TRY({
    const at::Tensor& x = rt::ref(t);
    try {
      x.backward(grad ? grad->t : at::Tensor(), retain_graph != 0);
    } catch (const c10::Error& e) {
      // Keep libtorch's message; add the usual cause in racnn's terms.
      if (x.requires_grad()) throw;
      TORCH_CHECK(false, e.what_without_backtrace(),
                  " (racnn: no parameter reached this tensor, or it was computed under no-grad)");
    }
  })
}

char* rt_grad(rt_tensor* t, rt_tensor** out) {
  RT_TRY({
    const at::Tensor& g = rt::ref(t).grad();
    *out = g.defined() ? rt::wrap(g) : nullptr;
  })
}

char* rt_zero_grad(rt_tensor** ts, int n, int set_to_none) {
  RT_TRY({
    for (int i = 0; i < n; i++) {
      at::Tensor x = rt::ref(ts[i]);
      at::Tensor& g = x.mutable_grad();
      if (!g.defined()) continue;
      if (set_to_none) {
        g.reset();
      } else {
        g.detach_();
        g.zero_();
      }
    }
  })
}

char* rt_detach(rt_tensor* t, rt_tensor** out) { RT_TRY(*out = rt::wrap(rt::ref(t).detach())) }

int rt_grad_enabled(void) { return at::GradMode::is_enabled() ? 1 : 0; }

void rt_set_grad_enabled(int on) { at::GradMode::set_enabled(on != 0); }

}  // extern "C"
