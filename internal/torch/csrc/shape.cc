// Views, reshapes, joins and indexing.
#include "internal.h"

static std::vector<at::Tensor> list(rt_tensor** ts, int n) {
  std::vector<at::Tensor> v;
  v.reserve(n);
  for (int i = 0; i < n; i++) v.push_back(rt::ref(ts[i]));
  return v;
}

extern "C" {

char* rt_reshape(rt_tensor* a, const int64_t* shape, int ndim, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(rt::ref(a).reshape(rt::ints(shape, ndim))))
}
char* rt_permute(rt_tensor* a, const int64_t* dims, int ndim, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(rt::ref(a).permute(rt::ints(dims, ndim))))
}
char* rt_transpose(rt_tensor* a, int64_t d0, int64_t d1, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(rt::ref(a).transpose(d0, d1)))
}
char* rt_narrow(rt_tensor* a, int64_t dim, int64_t start, int64_t length, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(rt::ref(a).narrow(dim, start, length)))
}
char* rt_index_select(rt_tensor* a, int64_t dim, rt_tensor* index, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(rt::ref(a).index_select(dim, rt::ref(index))))
}
char* rt_gather(rt_tensor* a, int64_t dim, rt_tensor* index, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(rt::ref(a).gather(dim, rt::ref(index))))
}
char* rt_expand(rt_tensor* a, const int64_t* shape, int ndim, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(rt::ref(a).expand(rt::ints(shape, ndim))))
}
char* rt_squeeze(rt_tensor* a, int64_t dim, rt_tensor** out) { RT_TRY(*out = rt::wrap(rt::ref(a).squeeze(dim))) }
char* rt_unsqueeze(rt_tensor* a, int64_t dim, rt_tensor** out) { RT_TRY(*out = rt::wrap(rt::ref(a).unsqueeze(dim))) }
char* rt_flatten(rt_tensor* a, int64_t start, int64_t end, rt_tensor** out) {
  RT_TRY(*out = rt::wrap(rt::ref(a).flatten(start, end)))
}
char* rt_cat(rt_tensor** ts, int n, int64_t dim, rt_tensor** out) { RT_TRY(*out = rt::wrap(at::cat(list(ts, n), dim))) }
char* rt_stack(rt_tensor** ts, int n, int64_t dim, rt_tensor** out) { RT_TRY(*out = rt::wrap(at::stack(list(ts, n), dim))) }

}  // extern "C"
