/*
 * racnn's C ABI over libtorch. Plain C, consumed by cgo (internal/torch).
 *
 * Conventions (docs/design.md, "The C boundary"):
 *  - Opaque handles: rt_tensor wraps one at::Tensor reference. Its only
 *    visible part is the rt_tensor_head it starts with (see below).
 *  - Every function that can fail returns char*: NULL on success, otherwise a
 *    heap message (libtorch's, without the C++ backtrace) that the caller frees
 *    with rt_free_string. Results come back through out-parameters. No C++
 *    exception ever crosses this boundary: every body runs inside RT_TRY.
 *  - Ownership: every rt_tensor* written to an out-parameter is NEW and owned
 *    by the caller, who frees it exactly once with rt_tensor_free. Every
 *    rt_tensor* argument is BORROWED. Freeing a handle only drops this
 *    reference, so tensors still used by autograd graphs stay alive.
 *  - Caller memory (shapes, data buffers) is only read or written during the
 *    call: data is copied in (from_blob(...).clone()) and copied out.
 *  - dtype codes are c10::ScalarType values (see internal/torch/dtype.go).
 *  - An optional tensor argument may be NULL (e.g. a conv bias); an optional
 *    tensor result is written as NULL when absent (e.g. a missing grad).
 */
#ifndef RACNN_RT_H
#define RACNN_RT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rt_tensor rt_tensor;

/* Every rt_tensor starts with this head: the number (rt_thread_id) of the OS
 * thread whose call made the handle. Go reads it in place to give the new
 * tensor to that thread's innermost scope, so ownership costs no second call
 * into C per op. */
typedef struct rt_tensor_head {
  uint64_t thread;
} rt_tensor_head;

/* rt_thread_id numbers the calling OS thread: 1, 2, ... in order of first
 * use, never reused (unlike kernel thread ids) and never 0. */
uint64_t rt_thread_id(void);

void rt_free_string(char* s);

/* ---- tensors: creation, copy, metadata (tensor.cc) ---- */
void rt_tensor_free(rt_tensor* t);
char* rt_tensor_from_data(const void* data, const int64_t* shape, int ndim, int dtype, rt_tensor** out);
char* rt_tensor_copy_out(rt_tensor* t, void* dst, size_t nbytes, int dtype);
char* rt_tensor_shape(rt_tensor* t, int64_t* shape, int cap, int* ndim);
char* rt_tensor_dtype(rt_tensor* t, int* dtype);
char* rt_tensor_device(rt_tensor* t, char** name);
char* rt_tensor_numel(rt_tensor* t, int64_t* n);
char* rt_tensor_item(rt_tensor* t, double* v);
char* rt_tensor_to(rt_tensor* t, const char* device, int dtype, int copy, rt_tensor** out); /* dtype -1: keep */
char* rt_tensor_contiguous(rt_tensor* t, int channels_last, rt_tensor** out);
char* rt_tensor_is_contiguous(rt_tensor* t, int channels_last, int* yes);
char* rt_tensor_clone(rt_tensor* t, rt_tensor** out);
char* rt_tensor_copy_(rt_tensor* dst, rt_tensor* src); /* in place, no grad recorded */
char* rt_tensor_string(rt_tensor* t, char** s);

/* factories; device NULL means cpu */
char* rt_zeros(const int64_t* shape, int ndim, int dtype, const char* device, rt_tensor** out);
char* rt_ones(const int64_t* shape, int ndim, int dtype, const char* device, rt_tensor** out);
char* rt_full(const int64_t* shape, int ndim, double v, int dtype, const char* device, rt_tensor** out);
char* rt_rand(const int64_t* shape, int ndim, int dtype, const char* device, rt_tensor** out);
char* rt_randn(const int64_t* shape, int ndim, int dtype, const char* device, rt_tensor** out);
char* rt_arange(double start, double end, double step, int dtype, const char* device, rt_tensor** out);
char* rt_linspace(double start, double end, int64_t steps, int dtype, const char* device, rt_tensor** out);
/* zeros with a's shape, dtype, device and memory format (channels-last stays channels-last) */
char* rt_zeros_like(rt_tensor* a, rt_tensor** out);

/* ---- elementwise and reductions (ops.cc) ---- */
enum {
  RT_NEG, RT_EXP, RT_LOG, RT_SIGMOID, RT_TANH, RT_RELU, RT_SQRT, RT_ABS,
  RT_FLOOR, RT_CEIL, RT_ROUND, RT_SIGN, RT_SQUARE, RT_RECIPROCAL, RT_ISFINITE,
  RT_LOGICAL_NOT
};
char* rt_unary(int op, rt_tensor* a, rt_tensor** out);

enum {
  RT_ADD, RT_SUB, RT_MUL, RT_DIV, RT_POW, RT_MAXIMUM, RT_MINIMUM,
  RT_EQ, RT_NE, RT_LT, RT_LE, RT_GT, RT_GE, RT_LOGICAL_AND, RT_LOGICAL_OR
};
char* rt_binary(int op, rt_tensor* a, rt_tensor* b, rt_tensor** out);
/* a (op) s; RT_SUB with reverse=1 computes s - a, RT_DIV with reverse=1 s / a */
char* rt_binary_scalar(int op, rt_tensor* a, double s, int reverse, rt_tensor** out);
/* in place a (op)= b with alpha for add/sub, used by optimisers and buffers */
char* rt_add_(rt_tensor* a, rt_tensor* b, double alpha);
char* rt_mul_scalar_(rt_tensor* a, double s);
/* ReLU in place, recorded by autograd (torch.relu_): for fresh activations */
char* rt_relu_(rt_tensor* a);
char* rt_fill_(rt_tensor* a, double v);

char* rt_clamp(rt_tensor* a, double lo, double hi, int has_lo, int has_hi, rt_tensor** out);
char* rt_where(rt_tensor* cond, rt_tensor* a, rt_tensor* b, rt_tensor** out);

enum { RT_SUM, RT_MEAN, RT_AMAX, RT_AMIN, RT_PROD };
/* ndims 0 reduces all dims */
char* rt_reduce(int op, rt_tensor* a, const int64_t* dims, int ndims, int keepdim, rt_tensor** out);
char* rt_max_dim(rt_tensor* a, int64_t dim, int keepdim, rt_tensor** values, rt_tensor** indices);
char* rt_argmax(rt_tensor* a, int64_t dim, int keepdim, rt_tensor** out);
char* rt_topk(rt_tensor* a, int64_t k, int64_t dim, int largest, rt_tensor** values, rt_tensor** indices);

char* rt_matmul(rt_tensor* a, rt_tensor* b, rt_tensor** out);

/* ---- shape and indexing (shape.cc) ---- */
char* rt_reshape(rt_tensor* a, const int64_t* shape, int ndim, rt_tensor** out);
char* rt_permute(rt_tensor* a, const int64_t* dims, int ndim, rt_tensor** out);
char* rt_transpose(rt_tensor* a, int64_t d0, int64_t d1, rt_tensor** out);
char* rt_narrow(rt_tensor* a, int64_t dim, int64_t start, int64_t length, rt_tensor** out);
char* rt_index_select(rt_tensor* a, int64_t dim, rt_tensor* index, rt_tensor** out);
char* rt_gather(rt_tensor* a, int64_t dim, rt_tensor* index, rt_tensor** out);
char* rt_expand(rt_tensor* a, const int64_t* shape, int ndim, rt_tensor** out);
char* rt_squeeze(rt_tensor* a, int64_t dim, rt_tensor** out);
char* rt_unsqueeze(rt_tensor* a, int64_t dim, rt_tensor** out);
char* rt_flatten(rt_tensor* a, int64_t start, int64_t end, rt_tensor** out);
char* rt_cat(rt_tensor** ts, int n, int64_t dim, rt_tensor** out);
char* rt_stack(rt_tensor** ts, int n, int64_t dim, rt_tensor** out);

/* ---- neural-network ops (nn.cc) ---- */
char* rt_linear(rt_tensor* x, rt_tensor* w, rt_tensor* b, rt_tensor** out);
char* rt_conv2d(rt_tensor* x, rt_tensor* w, rt_tensor* b, const int64_t* stride, const int64_t* padding,
                const int64_t* dilation, int64_t groups, rt_tensor** out);
char* rt_max_pool2d(rt_tensor* x, const int64_t* kernel, const int64_t* stride, const int64_t* padding,
                    int ceil_mode, rt_tensor** out);
char* rt_avg_pool2d(rt_tensor* x, const int64_t* kernel, const int64_t* stride, const int64_t* padding,
                    int ceil_mode, rt_tensor** out);
char* rt_adaptive_avg_pool2d(rt_tensor* x, const int64_t* size, rt_tensor** out);
char* rt_dropout(rt_tensor* x, double p, int train, rt_tensor** out);
/* running_mean / running_var may be NULL; in training mode they are updated in place */
char* rt_batch_norm(rt_tensor* x, rt_tensor* weight, rt_tensor* bias, rt_tensor* running_mean,
                    rt_tensor* running_var, int train, double momentum, double eps, rt_tensor** out);
char* rt_softmax(rt_tensor* x, int64_t dim, rt_tensor** out);
char* rt_log_softmax(rt_tensor* x, int64_t dim, rt_tensor** out);
/* reduction: 0 none, 1 mean, 2 sum (at::Reduction) */
char* rt_cross_entropy(rt_tensor* logits, rt_tensor* target, int reduction, double label_smoothing, rt_tensor** out);
char* rt_nll_loss(rt_tensor* logp, rt_tensor* target, int reduction, rt_tensor** out);
char* rt_normalize(rt_tensor* x, double p, int64_t dim, double eps, rt_tensor** out);
/* size: output H, W */
char* rt_interpolate_bilinear(rt_tensor* x, const int64_t* size, int align_corners, int antialias, rt_tensor** out);
char* rt_affine_grid(rt_tensor* theta, const int64_t* size, int ndim, int align_corners, rt_tensor** out);
/* mode: 0 bilinear, 1 nearest; padding: 0 zeros, 1 border, 2 reflection */
char* rt_grid_sample(rt_tensor* x, rt_tensor* grid, int mode, int padding, int align_corners, rt_tensor** out);

/* ---- autograd (autograd.cc) ---- */
char* rt_set_requires_grad(rt_tensor* t, int on);
char* rt_requires_grad(rt_tensor* t, int* on);
/* grad may be NULL for a scalar output */
char* rt_backward(rt_tensor* t, rt_tensor* grad, int retain_graph);
/* *out is NULL when the tensor has no grad */
char* rt_grad(rt_tensor* t, rt_tensor** out);
char* rt_zero_grad(rt_tensor** ts, int n, int set_to_none);
char* rt_detach(rt_tensor* t, rt_tensor** out);
/* grad mode is per OS thread in libtorch: call from a locked thread */
int rt_grad_enabled(void);
void rt_set_grad_enabled(int on);

/* ---- optimisers (optim.cc): one call updates a parameter group in place ----
 * PyTorch 1.13 single-tensor semantics. The state (momentum buffers, Adam
 * moments, per-parameter step counts) belongs to the caller so it can be
 * checkpointed exactly: state tensors are allocated by the caller (zeros
 * like the parameter). Parameters without a grad are skipped and keep their
 * state, as in PyTorch. initialized[i] (SGD) is set to 1 once buffer i holds
 * a value; steps[i] (Adam) is the per-parameter step count, incremented here. */
char* rt_sgd_step(rt_tensor** params, rt_tensor** momentum_bufs, int* initialized, int n, double lr,
                  double momentum, double dampening, double weight_decay, int nesterov);
/* decoupled: AdamW's weight decay; max_exp_avg_sq is read only with amsgrad */
char* rt_adam_step(rt_tensor** params, rt_tensor** exp_avg, rt_tensor** exp_avg_sq, rt_tensor** max_exp_avg_sq,
                   int64_t* steps, int n, double lr, double beta1, double beta2, double eps,
                   double weight_decay, int decoupled, int amsgrad);
/* how many of params have a grad, and the total squared norm of those grads */
char* rt_grad_norm_sq(rt_tensor** params, int n, double* norm_sq);
/* multiplies every grad in place (gradient clipping) */
char* rt_scale_grads(rt_tensor** params, int n, double s);

/* ---- serialization (serialize.cc) ----
 * Files are torch::pickle_save'd dicts {name: tensor}: Python's torch.load
 * reads them, and rt_load_tensors reads dicts of tensors written by torch.save. */
/* names[i] names ts[i] (both borrowed); tensors are saved detached */
char* rt_save_tensors(const char* path, const char** names, rt_tensor** ts, int n);
/* On success *names and *tensors are NEW arrays of *n entries, owned by the
 * caller: free each name with rt_free_string, each tensor with rt_tensor_free,
 * then both arrays with rt_free. On error nothing is allocated. */
char* rt_load_tensors(const char* path, char*** names, rt_tensor*** tensors, int* n);
void rt_free(void* p);

/* ---- process groups (dist.cc): torch.distributed's c10d ----
 * A group joins world ranks through a TCP store at host:port: hosted here
 * when is_host (rank 0, or torchrun's agent hosts it and every rank is a
 * client), its keys under prefix ("" for none; torchrun's agent store uses
 * "/worker/attempt_<restart count>"). Gloo moves CPU tensors; NCCL moves
 * CUDA tensors and exists only when cuda_device >= 0 on a libtorch built with
 * it (rt_dist_has_nccl). timeout_ms bounds the store's connect and waits and
 * every collective. The group is owned by the caller (rt_dist_free). */
typedef struct rt_dist rt_dist;
char* rt_dist_new(const char* host, int port, int is_host, const char* prefix, int rank, int world,
                  int64_t timeout_ms, int cuda_device, rt_dist** out);
void rt_dist_free(rt_dist* d);
int rt_dist_has_nccl(void);
/* In place on every rank: ts[i] = scale * sum over ranks of ts[i]. Tensors of
 * one dtype and device travel as flat buckets of at most bucket_bytes (<= 0:
 * one tensor at a time); every rank must pass the same shapes in the same order. */
char* rt_dist_all_reduce(rt_dist* d, rt_tensor** ts, int n, int64_t bucket_bytes, double scale);
/* In place: every rank's ts[i] becomes root's, bucketed as rt_dist_all_reduce. */
char* rt_dist_broadcast(rt_dist* d, rt_tensor** ts, int n, int64_t bucket_bytes, int root);
char* rt_dist_barrier(rt_dist* d);
/* The group's store, for small values (progress marks, gathered records):
 * rt_dist_store_get waits up to timeout_ms for key; *val is NEW (rt_free). */
char* rt_dist_store_set(rt_dist* d, const char* key, const void* val, size_t n);
char* rt_dist_store_get(rt_dist* d, const char* key, int64_t timeout_ms, void** val, size_t* n);
char* rt_dist_store_check(rt_dist* d, const char* key, int* present);

/* ---- mixed precision and GPU settings (amp.cc) ----
 * Autocast state is per OS thread (cuda 1: the CUDA autocast, 0: the CPU
 * one). rt_autocast_enter sets it as torch.autocast's __enter__ does; the
 * caller saves rt_autocast_enabled / rt_autocast_dtype before and passes
 * them to rt_autocast_exit, which also clears the cast cache when the
 * outermost region closes. */
int rt_autocast_enabled(int cuda);
int rt_autocast_dtype(int cuda);
char* rt_autocast_enter(int cuda, int enabled, int dtype);
char* rt_autocast_exit(int cuda, int prev_enabled, int prev_dtype);
/* grad *= inv_scale for every param that has a grad; *found_inf = 1 when
 * any grad holds an inf or NaN (the loss scaler's unscale_) */
char* rt_amp_unscale_grads(rt_tensor** params, int n, double inv_scale, int* found_inf);
/* cuDNN autotuning (torch.backends.cudnn.benchmark); process-wide */
void rt_set_cudnn_benchmark(int on);
int rt_cudnn_benchmark(void);
int rt_allow_tf32_matmul(void);
int rt_allow_tf32_cudnn(void);
/* torch.inference_mode on this OS thread: enter returns a guard that exit
 * (on the same thread) frees */
void* rt_inference_mode_enter(void);
void rt_inference_mode_exit(void* guard);

/* ---- runtime (runtime.cc) ---- */
char* rt_manual_seed(uint64_t seed);
void rt_set_num_threads(int n);
int rt_get_num_threads(void);
int rt_cuda_is_available(void);
int rt_cuda_device_count(void);
char* rt_cuda_synchronize(int device);
char* rt_check_device(const char* device);
/* TF32 in cuBLAS matmuls and cuDNN convolutions on Ampere and later GPUs
 * (libtorch's defaults: matmul off, cuDNN on); no effect on CPUs */
void rt_set_allow_tf32(int matmul, int cudnn);
char* rt_version(char** s);
/* Tunes glibc's malloc for training loops (see runtime.cc): returns 1 when
 * tuned, 0 when left alone (not glibc, or the user set malloc tunables). */
int rt_tune_malloc(void);
/* does nothing: measures the bare cost of a cgo call in benchmarks */
void rt_noop(void);

#ifdef __cplusplus
}
#endif
#endif
