// Tensor creation, copies in and out of caller memory, and metadata.
#include "internal.h"

extern "C" {

void rt_free_string(char* s) { std::free(s); }

void rt_tensor_free(rt_tensor* t) { delete t; }

char* rt_tensor_from_data(const void* data, const int64_t* shape, int ndim, int dtype, rt_tensor** out) {
  RT_TRY({
    auto o = at::TensorOptions().dtype(static_cast<at::ScalarType>(dtype));
    // from_blob borrows the caller's buffer; clone() makes the tensor own a copy.
    at::Tensor t = at::from_blob(const_cast<void*>(data), rt::ints(shape, ndim), o).clone();
    *out = rt::wrap(std::move(t));
  })
}

char* rt_tensor_copy_out(rt_tensor* h, void* dst, size_t nbytes, int dtype) {
  RT_TRY({
    at::Tensor t = rt::ref(h).detach().to(at::kCPU, static_cast<at::ScalarType>(dtype)).contiguous();
    size_t have = static_cast<size_t>(t.numel()) * t.element_size();
    TORCH_CHECK(have == nbytes, "copy out of ", t.numel(), " elements (", have,
                " bytes) into a buffer of ", nbytes, " bytes");
    if (nbytes) std::memcpy(dst, t.data_ptr(), nbytes);
  })
}

char* rt_tensor_shape(rt_tensor* h, int64_t* shape, int cap, int* ndim) {
  RT_TRY({
    const at::Tensor& t = rt::ref(h);
    *ndim = static_cast<int>(t.dim());
    TORCH_CHECK(t.dim() <= cap, "tensor has ", t.dim(), " dims, more than ", cap);
    for (int64_t i = 0; i < t.dim(); i++) shape[i] = t.size(i);
  })
}

char* rt_tensor_dtype(rt_tensor* h, int* dtype) { RT_TRY(*dtype = static_cast<int>(rt::ref(h).scalar_type())) }

char* rt_tensor_device(rt_tensor* h, char** name) { RT_TRY(*name = rt::dup(rt::ref(h).device().str())) }

char* rt_tensor_numel(rt_tensor* h, int64_t* n) { RT_TRY(*n = rt::ref(h).numel()) }

char* rt_tensor_item(rt_tensor* h, double* v) { RT_TRY(*v = rt::ref(h).item<double>()) }

char* rt_tensor_to(rt_tensor* h, const char* dev, int dtype, int copy, rt_tensor** out) {
  RT_TRY({
    const at::Tensor& t = rt::ref(h);
    at::ScalarType st = dtype < 0 ? t.scalar_type() : static_cast<at::ScalarType>(dtype);
    at::Device d = dev == nullptr ? t.device() : rt::device(dev);
    *out = rt::wrap(t.to(d, st, /*non_blocking=*/false, /*copy=*/copy != 0));
  })
}

char* rt_tensor_contiguous(rt_tensor* h, int channels_last, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(rt::ref(h).contiguous(channels_last ? at::MemoryFormat::ChannelsLast
                                                             : at::MemoryFormat::Contiguous)))
}

char* rt_tensor_is_contiguous(rt_tensor* h, int channels_last, int* yes) {
  RT_TRY(*yes = rt::ref(h).is_contiguous(channels_last ? at::MemoryFormat::ChannelsLast
                                                       : at::MemoryFormat::Contiguous))
}

char* rt_tensor_clone(rt_tensor* h, rt_tensor** out) { RT_TRY(*out = rt::wrap(rt::ref(h).clone())) }

char* rt_tensor_copy_(rt_tensor* dst, rt_tensor* src) {
  RT_TRY({
    at::NoGradGuard g;
    at::Tensor d = rt::ref(dst);
    d.copy_(rt::ref(src));
  })
}

char* rt_tensor_string(rt_tensor* h, char** s) {
  RT_TRY({
    std::ostringstream os;
    os << rt::ref(h);
    *s = rt::dup(os.str());
  })
}

char* rt_zeros(const int64_t* shape, int ndim, int dtype, const char* dev, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(at::zeros(rt::ints(shape, ndim), rt::opts(dtype, dev))))
}

char* rt_ones(const int64_t* shape, int ndim, int dtype, const char* dev, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(at::ones(rt::ints(shape, ndim), rt::opts(dtype, dev))))
}

char* rt_full(const int64_t* shape, int ndim, double v, int dtype, const char* dev, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(at::full(rt::ints(shape, ndim), v, rt::opts(dtype, dev))))
}

char* rt_rand(const int64_t* shape, int ndim, int dtype, const char* dev, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(at::rand(rt::ints(shape, ndim), rt::opts(dtype, dev))))
}

char* rt_randn(const int64_t* shape, int ndim, int dtype, const char* dev, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(at::randn(rt::ints(shape, ndim), rt::opts(dtype, dev))))
}

char* rt_arange(double start, double end, double step, int dtype, const char* dev, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(at::arange(start, end, step, rt::opts(dtype, dev))))
}

char* rt_linspace(double start, double end, int64_t steps, int dtype, const char* dev, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(at::linspace(start, end, steps, rt::opts(dtype, dev))))
}

char* rt_zeros_like(rt_tensor* a, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(at::zeros_like(rt::ref(a), at::MemoryFormat::Preserve)))
}

}  // extern "C"
