// Neural-network ops: convolution, pooling, normalisation, losses, resampling.
#include "internal.h"

extern "C" {

char* rt_linear(rt_tensor* x, rt_tensor* w, rt_tensor* b, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(at::linear(rt::ref(x), rt::ref(w), rt::opt(b))))
}

char* rt_conv2d(rt_tensor* x, rt_tensor* w, rt_tensor* b, const int64_t* stride, const int64_t* padding,
                const int64_t* dilation, int64_t groups, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(at::conv2d(rt::ref(x), rt::ref(w), rt::opt(b), rt::ints(stride, 2),
                                    rt::ints(padding, 2), rt::ints(dilation, 2), groups)))
}

char* rt_max_pool2d(rt_tensor* x, const int64_t* kernel, const int64_t* stride, const int64_t* padding,
                    int ceil_mode, rt_tensor** out) {
  RT_TRY({
    int64_t dil[2] = {1, 1};
    *out = rt::wrap(at::max_pool2d(rt::ref(x), rt::ints(kernel, 2), rt::ints(stride, 2), rt::ints(padding, 2),
                                   rt::ints(dil, 2), ceil_mode != 0));
  })
}

char* rt_avg_pool2d(rt_tensor* x, const int64_t* kernel, const int64_t* stride, const int64_t* padding,
                    int ceil_mode, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(at::avg_pool2d(rt::ref(x), rt::ints(kernel, 2), rt::ints(stride, 2),
                                        rt::ints(padding, 2), ceil_mode != 0)))
}

char* rt_adaptive_avg_pool2d(rt_tensor* x, const int64_t* size, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(at::adaptive_avg_pool2d(rt::ref(x), rt::ints(size, 2))))
}

char* rt_dropout(rt_tensor* x, double p, int train, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(at::dropout(rt::ref(x), p, train != 0)))
}

char* rt_batch_norm(rt_tensor* x, rt_tensor* weight, rt_tensor* bias, rt_tensor* running_mean,
                    rt_tensor* running_var, int train, double momentum, double eps, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(at::batch_norm(rt::ref(x), rt::opt(weight), rt::opt(bias), rt::opt(running_mean),
                                        rt::opt(running_var), train != 0, momentum, eps,
                                        /*cudnn_enabled=*/true)))
}

char* rt_softmax(rt_tensor* x, int64_t dim, rt_tensor** out) { RT_TRY(*out = rt::wrap(rt::ref(x).softmax(dim))) }

char* rt_log_softmax(rt_tensor* x, int64_t dim, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(rt::ref(x).log_softmax(dim)))
}

char* rt_cross_entropy(rt_tensor* logits, rt_tensor* target, int reduction, double label_smoothing, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(at::cross_entropy_loss(rt::ref(logits), rt::ref(target), c10::nullopt, reduction,
                                                /*ignore_index=*/-100, label_smoothing)))
}

char* rt_nll_loss(rt_tensor* logp, rt_tensor* target, int reduction, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(at::nll_loss(rt::ref(logp), rt::ref(target), c10::nullopt, reduction, -100)))
}

// As torch.nn.functional.normalize: x / max(||x||_p, eps) along dim.
char* rt_normalize(rt_tensor* x, double p, int64_t dim, double eps, rt_tensor** out) {
  RT_TRY({
    const at::Tensor& t = rt::ref(x);
    at::Tensor denom = t.norm(p, dim, /*keepdim=*/true).clamp_min(eps).expand_as(t);
    *out = rt::wrap(t / denom);
  })
}

char* rt_interpolate_bilinear(rt_tensor* x, const int64_t* size, int align_corners, int antialias, rt_tensor** out) {
  RT_TRY({
    at::Tensor r = antialias ? at::_upsample_bilinear2d_aa(rt::ref(x), rt::ints(size, 2), align_corners != 0)
                             : at::upsample_bilinear2d(rt::ref(x), rt::ints(size, 2), align_corners != 0);
    *out = rt::wrap(std::move(r));
  })
}

char* rt_affine_grid(rt_tensor* theta, const int64_t* size, int ndim, int align_corners, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(at::affine_grid_generator(rt::ref(theta), rt::ints(size, ndim), align_corners != 0)))
}

char* rt_grid_sample(rt_tensor* x, rt_tensor* grid, int mode, int padding, int align_corners, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(at::grid_sampler(rt::ref(x), rt::ref(grid), mode, padding, align_corners != 0)))
}

}  // extern "C"
