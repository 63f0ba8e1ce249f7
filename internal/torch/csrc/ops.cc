// Elementwise arithmetic, comparisons, reductions and matmul: thin dispatch
// by op code so the ABI stays small; the semantics are ATen's.
#include "internal.h"

extern "C" {

char* rt_unary(int op, rt_tensor* h, rt_tensor** out) {
  RT_TRY({
    const at::Tensor& a = rt::ref(h);
    at::Tensor r;
    switch (op) {
      case RT_NEG: r = a.neg(); break;
      case RT_EXP: r = a.exp(); break;
      case RT_LOG: r = a.log(); break;
      case RT_SIGMOID: r = a.sigmoid(); break;
      case RT_TANH: r = a.tanh(); break;
      case RT_RELU: r = a.relu(); break;
      case RT_SQRT: r = a.sqrt(); break;
      case RT_ABS: r = a.abs(); break;
      case RT_FLOOR: r = a.floor(); break;
      case RT_CEIL: r = a.ceil(); break;
      case RT_ROUND: r = a.round(); break;
      case RT_SIGN: r = a.sign(); break;
      case RT_SQUARE: r = a.square(); break;
      case RT_RECIPROCAL: r = a.reciprocal(); break;
      case RT_ISFINITE: r = a.isfinite(); break;
      case RT_LOGICAL_NOT: r = a.logical_not(); break;
      default: TORCH_CHECK(false, "unknown unary op ", op);
    }
    *out = rt::wrap(std::move(r));
  })
}

static at::Tensor binary(int op, const at::Tensor& a, const at::Tensor& b) {
  switch (op) {
    case RT_ADD: return a.add(b);
    case RT_SUB: return a.sub(b);
    case RT_MUL: return a.mul(b);
    case RT_DIV: return a.div(b);
    case RT_POW: return a.pow(b);
    case RT_MAXIMUM: return at::maximum(a, b);
    case RT_MINIMUM: return at::minimum(a, b);
    case RT_EQ: return a.eq(b);
    case RT_NE: return a.ne(b);
    case RT_LT: return a.lt(b);
    case RT_LE: return a.le(b);
    case RT_GT: return a.gt(b);
    case RT_GE: return a.ge(b);
    case RT_LOGICAL_AND: return a.logical_and(b);
    case RT_LOGICAL_OR: return a.logical_or(b);
  }
  TORCH_CHECK(false, "unknown binary op ", op);
}

char* rt_binary(int op, rt_tensor* a, rt_tensor* b, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(binary(op, rt::ref(a), rt::ref(b))))
}

char* rt_binary_scalar(int op, rt_tensor* h, double s, int reverse, rt_tensor** out) {
  RT_TRY({
    const at::Tensor& a = rt::ref(h);
    at::Tensor r;
    if (reverse) {
      switch (op) {
        case RT_SUB: r = at::rsub(a, s); break;
        case RT_DIV: r = a.reciprocal().mul(s); break;
        case RT_POW: r = at::pow(s, a); break;
        default: TORCH_CHECK(false, "op ", op, " has no reversed scalar form");
      }
    } else {
      switch (op) {
        case RT_ADD: r = a.add(s); break;
        case RT_SUB: r = a.sub(s); break;
        case RT_MUL: r = a.mul(s); break;
        case RT_DIV: r = a.div(s); break;
        case RT_POW: r = a.pow(s); break;
        case RT_MAXIMUM: r = a.clamp_min(s); break;
        case RT_MINIMUM: r = a.clamp_max(s); break;
        case RT_EQ: r = a.eq(s); break;
        case RT_NE: r = a.ne(s); break;
        case RT_LT: r = a.lt(s); break;
        case RT_LE: r = a.le(s); break;
        case RT_GT: r = a.gt(s); break;
        case RT_GE: r = a.ge(s); break;
        default: TORCH_CHECK(false, "op ", op, " has no scalar form");
      }
    }
    *out = rt::wrap(std::move(r));
  })
}

char* rt_add_(rt_tensor* a, rt_tensor* b, double alpha) {
  RT_TRY({
    at::NoGradGuard g;
    at::Tensor t = rt::ref(a);
    t.add_(rt::ref(b), alpha);
  })
}

char* rt_mul_scalar_(rt_tensor* a, double s) {
  RT_TRY({
    at::NoGradGuard g;
    at::Tensor t = rt::ref(a);
    t.mul_(s);
  })
}

char* rt_relu_(rt_tensor* a) {
  RT_TRY({
    at::Tensor t = rt::ref(a);
    t.relu_();
  })
}

char* rt_fill_(rt_tensor* a, double v) {
  RT_TRY({
    at::NoGradGuard g;
    at::Tensor t = rt::ref(a);
    t.fill_(v);
  })
}

char* rt_clamp(rt_tensor* h, double lo, double hi, int has_lo, int has_hi, rt_tensor** out) {
  RT_TRY({
    c10::optional<at::Scalar> l, u;
    if (has_lo) l = lo;
    if (has_hi) u = hi;
    *out = rt::wrap(at::clamp(rt::ref(h), l, u));
  })
}

char* rt_where(rt_tensor* c, rt_tensor* a, rt_tensor* b, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(at::where(rt::ref(c), rt::ref(a), rt::ref(b))))
}

char* rt_reduce(int op, rt_tensor* h, const int64_t* dims, int ndims, int keepdim, rt_tensor** out) {
  RT_TRY({
    const at::Tensor& a = rt::ref(h);
    at::IntArrayRef d = rt::ints(dims, ndims);
    at::Tensor r;
    switch (op) {
      case RT_SUM: r = ndims ? a.sum(d, keepdim != 0) : a.sum(); break;
      case RT_MEAN: r = ndims ? a.mean(d, keepdim != 0) : a.mean(); break;
      case RT_AMAX: r = a.amax(d, keepdim != 0); break;
      case RT_AMIN: r = a.amin(d, keepdim != 0); break;
      case RT_PROD:
        TORCH_CHECK(ndims <= 1, "prod reduces one dim or all");
        r = ndims ? a.prod(dims[0], keepdim != 0) : a.prod();
        break;
      default: TORCH_CHECK(false, "unknown reduction ", op);
    }
    *out = rt::wrap(std::move(r));
  })
}

char* rt_max_dim(rt_tensor* h, int64_t dim, int keepdim, rt_tensor** values, rt_tensor** indices) {
  RT_TRY({
    auto r = rt::ref(h).max(dim, keepdim != 0);
    *values = rt::wrap(std::get<0>(r));
    *indices = rt::wrap(std::get<1>(r));
  })
}

char* rt_argmax(rt_tensor* h, int64_t dim, int keepdim, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(rt::ref(h).argmax(dim, keepdim != 0)))
}

char* rt_topk(rt_tensor* h, int64_t k, int64_t dim, int largest, rt_tensor** values, rt_tensor** indices) {
  RT_TRY({
    auto r = rt::ref(h).topk(k, dim, largest != 0, /*sorted=*/true);
    *values = rt::wrap(std::get<0>(r));
    *indices = rt::wrap(std::get<1>(r));
  })
}

char* rt_matmul(rt_tensor* a, rt_tensor* b, rt_tensor** out) { RT_TRY(*out = rt::wrap(at::matmul(rt::ref(a), rt::ref(b)))) }

}  // extern "C"
