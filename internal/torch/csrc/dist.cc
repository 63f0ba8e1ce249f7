// Process groups (torch.distributed's c10d): a TCP store, Gloo for CPU
// tensors, NCCL for CUDA tensors where this libtorch has it. The backends are
// called directly: ProcessGroupGloo and ProcessGroupNCCL are ProcessGroups in
// libtorch 1.13 and Backends of a ProcessGroup from 2.0 on, and their
// allreduce/broadcast/barrier read the same in both, so no version check is
// needed here.
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdlib>
#include <sstream>

#include "internal.h"

struct rt_dist {
  c10::intrusive_ptr<c10d::Store> store;
#ifdef USE_C10D_GLOO
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#endif
#ifdef USE_C10D_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
  int rank = 0;
  int world = 1;
  std::chrono::milliseconds timeout{0};
};

namespace {

// The backend that moves tensors on t's device.
template <typename F>
void on_backend(rt_dist* d, const at::Tensor& t, F f) {
  if (t.is_cuda()) {
#ifdef USE_C10D_NCCL
    TORCH_CHECK(d->nccl, "process group: a CUDA tensor, but this group has no NCCL backend");
    f(*d->nccl);
#else
    TORCH_CHECK(false, "process group: this libtorch has no NCCL (rebuild the shim against a CUDA libtorch)");
#endif
    return;
  }
#ifdef USE_C10D_GLOO
  TORCH_CHECK(d->gloo, "process group: no Gloo backend");
  f(*d->gloo);
#else
  TORCH_CHECK(false, "process group: this libtorch has no Gloo");
#endif
}

// Groups ts into flat buckets of one dtype and device holding at most
// bucket_bytes (one tensor per bucket when bucket_bytes <= 0, or when a
// tensor alone is larger), in order.
std::vector<std::vector<at::Tensor>> buckets(rt_tensor** ts, int n, int64_t bucket_bytes) {
  std::vector<std::vector<at::Tensor>> out;
  int64_t bytes = 0;
  for (int i = 0; i < n; i++) {
    const at::Tensor& t = rt::ref(ts[i]);
    int64_t b = t.numel() * static_cast<int64_t>(t.element_size());
    bool fresh = out.empty() || bucket_bytes <= 0 || bytes + b > bucket_bytes ||
                 out.back()[0].scalar_type() != t.scalar_type() || out.back()[0].device() != t.device();
    if (fresh) {
      out.emplace_back();
      bytes = 0;
    }
    out.back().push_back(t);
    bytes += b;
  }
  return out;
}

// Runs op on one contiguous tensor holding the bucket's values, then copies
// the result back into the bucket's tensors (any layout). A single
// contiguous tensor is used as it is.
template <typename Op>
void flat(rt_dist* d, std::vector<at::Tensor>& bucket, Op op) {
  at::NoGradGuard g;
  if (bucket.size() == 1 && bucket[0].is_contiguous()) {
    std::vector<at::Tensor> v{bucket[0]};
    on_backend(d, bucket[0], [&](auto& pg) { op(pg, v); });
    return;
  }
  std::vector<at::Tensor> flats;
  flats.reserve(bucket.size());
  for (auto& t : bucket) flats.push_back(t.reshape({-1}));
  std::vector<at::Tensor> v{at::cat(flats)};
  on_backend(d, bucket[0], [&](auto& pg) { op(pg, v); });
  int64_t off = 0;
  for (auto& t : bucket) {
    t.copy_(v[0].narrow(0, off, t.numel()).view(t.sizes()));
    off += t.numel();
  }
}

}  // namespace

extern "C" {

char* rt_dist_new(const char* host, int port, int is_host, const char* prefix, int rank, int world,
                  int64_t timeout_ms, int cuda_device, rt_dist** out) {
  RT_TRY({
    TORCH_CHECK(world >= 1 && rank >= 0 && rank < world, "process group: rank ", rank, " of ", world);
    TORCH_CHECK(port > 0 && port < 65536, "process group: port ", port, " out of range");
    auto d = std::make_unique<rt_dist>();
    d->rank = rank;
    d->world = world;
    d->timeout = std::chrono::milliseconds(timeout_ms);
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(port);
    so.isServer = is_host != 0;
    // Every rank counts itself in (a client only adds to the count when it
    // knows the world size); the host waits until all have, as PyTorch's
    // workers do.
    so.numWorkers = static_cast<std::size_t>(world);
    so.waitWorkers = true;
    so.timeout = d->timeout;
    c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::TCPStore>(std::string(host), so);
    if (prefix != nullptr && prefix[0] != '\0') store = c10::make_intrusive<c10d::PrefixStore>(prefix, store);
    store->setTimeout(d->timeout);
    d->store = store;
    // The collectives' keys live under their own prefix, as PyTorch's
    // default group does, so racnn's own keys never meet Gloo's.
    auto pg_store = c10::make_intrusive<c10d::PrefixStore>("racnn_pg", store);
#ifdef USE_C10D_GLOO
    auto go = c10d::ProcessGroupGloo::Options::create(d->timeout);
    // PyTorch's choice: the interfaces named in GLOO_SOCKET_IFNAME, else the
    // address this machine's hostname resolves to (loopback if none).
    const char* ifs = std::getenv("GLOO_SOCKET_IFNAME");
    if (ifs != nullptr && ifs[0] != '\0') {
      std::stringstream ss(ifs);
      std::string name;
      while (std::getline(ss, name, ','))
        if (!name.empty()) go->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
    } else {
      go->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    d->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(
        c10::make_intrusive<c10d::PrefixStore>("gloo", pg_store), rank, world, go);
#endif
    if (cuda_device >= 0) {
#ifdef USE_C10D_NCCL
      // Without asynchronous error handling a timed-out NCCL collective
      // hangs instead of failing (the user's setting wins).
      setenv("NCCL_ASYNC_ERROR_HANDLING", "1", 0);
      setenv("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1", 0);
      at::globalContext().lazyInitCUDA();
      auto no = c10d::ProcessGroupNCCL::Options::create();
      no->timeout = d->timeout;
      d->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(
          c10::make_intrusive<c10d::PrefixStore>("nccl", pg_store), rank, world, no);
#else
      TORCH_CHECK(false, "process group on cuda:", cuda_device,
                  ": this libtorch has no NCCL (rebuild the shim against a CUDA libtorch)");
#endif
    }
    *out = d.release();
  })
}

void rt_dist_free(rt_dist* d) {
  try {
    delete d;
  } catch (...) {
  }
}

int rt_dist_has_nccl(void) {
#ifdef USE_C10D_NCCL
  return 1;
#else
  return 0;
#endif
}

char* rt_dist_all_reduce(rt_dist* d, rt_tensor** ts, int n, int64_t bucket_bytes, double scale) {
  RT_TRY({
    for (auto& b : buckets(ts, n, bucket_bytes)) {
      flat(d, b, [&](auto& pg, std::vector<at::Tensor>& v) {
        pg.allreduce(v)->wait();
        if (scale != 1) v[0].mul_(scale);
      });
    }
  })
}

char* rt_dist_broadcast(rt_dist* d, rt_tensor** ts, int n, int64_t bucket_bytes, int root) {
  RT_TRY({
    c10d::BroadcastOptions o;
    o.rootRank = root;
    for (auto& b : buckets(ts, n, bucket_bytes)) {
      flat(d, b, [&](auto& pg, std::vector<at::Tensor>& v) { pg.broadcast(v, o)->wait(); });
    }
  })
}

char* rt_dist_barrier(rt_dist* d) {
  RT_TRY({
#ifdef USE_C10D_GLOO
    TORCH_CHECK(d->gloo, "process group: no Gloo backend");
    d->gloo->barrier()->wait();
#elif defined(USE_C10D_NCCL)
    TORCH_CHECK(d->nccl, "process group: no backend");
    d->nccl->barrier()->wait();
#else
    TORCH_CHECK(false, "process group: this libtorch has no Gloo");
#endif
  })
}

char* rt_dist_store_set(rt_dist* d, const char* key, const void* val, size_t n) {
  RT_TRY({
    const auto* p = static_cast<const uint8_t*>(val);
    d->store->set(key, std::vector<uint8_t>(p, p + n));
  })
}

char* rt_dist_store_get(rt_dist* d, const char* key, int64_t timeout_ms, void** val, size_t* n) {
  RT_TRY({
    d->store->wait({std::string(key)}, std::chrono::milliseconds(timeout_ms));
    std::vector<uint8_t> v = d->store->get(key);
    void* p = std::malloc(v.size() > 0 ? v.size() : 1);
    if (!v.empty()) std::memcpy(p, v.data(), v.size());
    *val = p;
    *n = v.size();
  })
}

char* rt_dist_store_check(rt_dist* d, const char* key, int* present) {
  RT_TRY(*present = d->store->check({std::string(key)}) ? 1 : 0)
}

}  // extern "C"
