// Optimiser steps with PyTorch 1.13's single-tensor semantics
// (torch/optim/sgd.py, adam.py, adamw.py). The state lives in caller-owned
// tensors so it can be checkpointed exactly; one call updates one group.
#include <cmath>

#include "internal.h"

extern "C" {

char* rt_sgd_step(rt_tensor** params, rt_tensor** bufs, int* initialized, int n, double lr, double momentum,
                  double dampening, double weight_decay, int nesterov) {
  RT_TRY({
    at::NoGradGuard g;
    for (int i = 0; i < n; i++) {
      at::Tensor p = rt::ref(params[i]);
      if (!p.grad().defined()) continue;
      at::Tensor d = p.grad();
      if (weight_decay != 0) d = d.add(p, weight_decay);
      if (momentum != 0) {
        at::Tensor buf = rt::ref(bufs[i]);
        if (!initialized[i]) {
          buf.copy_(d);  // PyTorch: buf = clone(d_p) on the first step
          initialized[i] = 1;
        } else {
          buf.mul_(momentum).add_(d, 1 - dampening);
        }
        d = nesterov ? d.add(buf, momentum) : buf;
      }
      p.add_(d, -lr);
    }
  })
}

char* rt_adam_step(rt_tensor** params, rt_tensor** exp_avg, rt_tensor** exp_avg_sq, rt_tensor** max_exp_avg_sq,
                   int64_t* steps, int n, double lr, double beta1, double beta2, double eps, double weight_decay,
                   int decoupled, int amsgrad) {
  RT_TRY({
    at::NoGradGuard g;
    for (int i = 0; i < n; i++) {
      at::Tensor p = rt::ref(params[i]);
      if (!p.grad().defined()) continue;
      const double step = static_cast<double>(++steps[i]);
      const double bc1 = 1 - std::pow(beta1, step);
      const double bc2_sqrt = std::sqrt(1 - std::pow(beta2, step));
      at::Tensor grad = p.grad();
      if (decoupled) {
        p.mul_(1 - lr * weight_decay);
      } else if (weight_decay != 0) {
        grad = grad.add(p, weight_decay);
      }
      at::Tensor m = rt::ref(exp_avg[i]);
      at::Tensor v = rt::ref(exp_avg_sq[i]);
      m.mul_(beta1).add_(grad, 1 - beta1);
      v.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
      at::Tensor denom;
      if (amsgrad) {
        at::Tensor vmax = rt::ref(max_exp_avg_sq[i]);
        at::maximum_out(vmax, vmax, v);
        denom = (vmax.sqrt() / bc2_sqrt).add_(eps);
      } else {
        denom = (v.sqrt() / bc2_sqrt).add_(eps);
      }
      p.addcdiv_(m, denom, -lr / bc1);
    }
  })
}

char* rt_grad_norm_sq(rt_tensor** params, int n, double* norm_sq) {
  RT_TRY({
    at::NoGradGuard g;
    // One device-to-host sync for the whole group, not one per parameter.
    std::vector<at::Tensor> parts;
    for (int i = 0; i < n; i++) {
      const at::Tensor& gr = rt::ref(params[i]).grad();
      if (gr.defined()) parts.push_back(gr.to(at::kDouble).square().sum());
    }
    *norm_sq = parts.empty() ? 0.0 : at::stack(parts).sum().item<double>();
  })
}

char* rt_scale_grads(rt_tensor** params, int n, double s) {
  RT_TRY({
    at::NoGradGuard g;
    for (int i = 0; i < n; i++) {
      at::Tensor gr = rt::ref(params[i]).grad();
      if (gr.defined()) gr.mul_(s);
    }
  })
}

}  // extern "C"
