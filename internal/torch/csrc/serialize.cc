// Saving and loading named tensors with libtorch's own serialization:
// torch::pickle_save writes the zip format torch.save uses, so Python's
// torch.load reads these files (and torch.save'd dicts of tensors load here).
#include <caffe2/serialize/file_adapter.h>

#include <sys/stat.h>

#include <cerrno>
#include <memory>
#include <fstream>

#include "internal.h"

extern "C" {

void rt_free(void* p) { std::free(p); }

char* rt_save_tensors(const char* path, const char** names, rt_tensor** ts, int n) {
  RT_TRY({
    TORCH_CHECK(path != nullptr, "save tensors: NULL path");
    c10::Dict<std::string, at::Tensor> dict;
    for (int i = 0; i < n; i++) {
      TORCH_CHECK(names[i] != nullptr, "save tensors: NULL name at ", i);
      TORCH_CHECK(!dict.contains(names[i]), "save tensors: duplicate name ", names[i]);
      // Saved values are data, not graph nodes.
      dict.insert(names[i], rt::ref(ts[i]).detach());
    }
    std::vector<char> bytes = torch::pickle_save(c10::IValue(dict));
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    TORCH_CHECK(f.good(), "open file failed because of errno ", errno, " on open: ", std::strerror(errno),
                ", file path: ", path);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    f.close();
    TORCH_CHECK(!f.fail(), "write failed, file path: ", path);
  })
}

char* rt_load_tensors(const char* path, char*** names, rt_tensor*** ts, int* n) {
  *names = nullptr;
  *ts = nullptr;
  *n = 0;
  RT_TRY({
    TORCH_CHECK(path != nullptr, "load tensors: NULL path");
    struct stat st;
    TORCH_CHECK(::stat(path, &st) != 0 || !S_ISDIR(st.st_mode), path, " is a directory, not a tensor file");
    // FileAdapter reports a missing or unreadable file with libtorch's
    // message; 1.13's leaves the reason blank, so it is added here.
    std::unique_ptr<caffe2::serialize::FileAdapter> file;
    try {
      file = std::make_unique<caffe2::serialize::FileAdapter>(path);
    } catch (const c10::Error& e) {
      std::string why = ::stat(path, &st) != 0 ? std::strerror(errno) : "";
      TORCH_CHECK(false, e.what_without_backtrace(), why.empty() ? "" : " (" + why + ")");
    }
    std::vector<char> bytes(file->size());
    if (!bytes.empty()) file->read(0, bytes.data(), bytes.size(), "tensor file");
    c10::IValue v = torch::pickle_load(bytes);
    TORCH_CHECK(v.isGenericDict(), path, " holds a ", v.tagKind(), ", not a dict of tensors");
    c10::Dict<c10::IValue, c10::IValue> dict = v.toGenericDict();
    std::vector<std::string> keys;
    std::vector<at::Tensor> vals;
    for (const auto& e : dict) {
      TORCH_CHECK(e.key().isString(), path, ": a key is a ", e.key().tagKind(), ", not a string");
      TORCH_CHECK(e.value().isTensor(), path, ": value of ", e.key().toStringRef(), " is a ",
                  e.value().tagKind(), ", not a tensor");
      keys.push_back(e.key().toStringRef());
      vals.push_back(e.value().toTensor());
    }
    const size_t k = keys.size();
    char** ns = static_cast<char**>(std::calloc(k ? k : 1, sizeof(char*)));
    rt_tensor** hs = static_cast<rt_tensor**>(std::calloc(k ? k : 1, sizeof(rt_tensor*)));
    if (ns == nullptr || hs == nullptr) {
      std::free(ns);
      std::free(hs);
      TORCH_CHECK(false, "out of memory");
    }
    for (size_t i = 0; i < k; i++) {
      ns[i] = rt::dup(keys[i]);
      hs[i] = rt::wrap(std::move(vals[i]));
    }
    *names = ns;
    *ts = hs;
    *n = static_cast<int>(k);
  })
}

}  // extern "C"
