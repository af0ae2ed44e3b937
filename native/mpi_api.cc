// MPI bindings for data-parallel training: the few MPI_COMM_WORLD operations one training step needs (broadcast of
// rank 0's weights, in-place sum all-reduce of the flat gradient buffer, a few doubles for losses and checks,
// barrier, abort). Called from the Node main thread only (MPI_THREAD_FUNNELED); every call blocks until the
// collective completes. Compiled in when scripts/detect-mpi.cjs finds mpi.h (BERTFIT_HAVE_MPI); without it every
// binding throws "built without MPI".
#include "mpi_api.h"

#include <cstdint>
#include <cstdio>
#include <string>

#ifdef BERTFIT_HAVE_MPI
#include <dlfcn.h>
#include <mpi.h>

#include <algorithm>
#endif

#include "args.h"

namespace bertfit {

#ifdef BERTFIT_HAVE_MPI
bool mpi_compiled() { return true; }
#else
bool mpi_compiled() { return false; }
#endif

namespace {

[[noreturn, maybe_unused]] void not_built(const Napi::CallbackInfo& info, const char* fn) {
  throw Napi::Error::New(info.Env(), std::string(fn) +
      ": this bertfit's native addon was built without MPI (no mpi.h was found when it was built); install Open MPI's "
      "headers (Debian: libopenmpi-dev) and rebuild it (npm rebuild bertfit, or npm run build:native in a checkout)");
}

#ifdef BERTFIT_HAVE_MPI

bool g_initialised = false;

// MPI's error text for a return code.
std::string mpi_error(int rc) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(rc);
  return std::string(text, static_cast<size_t>(len));
}

void check(const Args& a, int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw Napi::Error::New(a.env(), std::string(a.fn()) + ": " + what + " failed: " + mpi_error(rc));
}

void require_init(const Args& a) {
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (finalised) throw Napi::Error::New(a.env(), std::string(a.fn()) + ": MPI was already finalised in this process");
  if (!g_initialised) throw Napi::Error::New(a.env(), std::string(a.fn()) + ": MPI is not initialised (call mpiInit first)");
}

// Node loads addons with RTLD_LOCAL, so libmpi's symbols stay invisible to the plugins Open MPI dlopens during
// MPI_Init (mca_pml_ob1.so, mca_btl_vader.so, ...), which then fail with "undefined symbol: ompi_...". Re-opening the
// already loaded library with RTLD_GLOBAL makes its symbols global. dladdr names the exact file the addon linked
// against; the sonames are the fallback. Returns "" or a description of why it failed (MPI_Init may still work,
// e.g. with an MPI built without plugins).
std::string promote_libmpi() {
  Dl_info where{};
  if (dladdr(reinterpret_cast<void*>(&MPI_Init), &where) != 0 && where.dli_fname != nullptr) {
    if (dlopen(where.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) != nullptr) return "";
  }
  for (const char* name : {"libmpi.so.40", "libmpi.so.12", "libmpi.so"}) {
    if (dlopen(name, RTLD_NOW | RTLD_GLOBAL) != nullptr) return "";
  }
  const char* err = dlerror();
  return err ? err : "dlopen(libmpi) failed";
}

// The first line of MPI_Get_library_version (callable before MPI_Init), e.g. "Open MPI v4.1.4, package: ...".
std::string library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  if (MPI_Get_library_version(text, &len) != MPI_SUCCESS) return "";
  std::string s(text, static_cast<size_t>(len));
  const size_t end = s.find_first_of(",\n");
  return end == std::string::npos ? s : s.substr(0, end);
}

// mpiInit(): {rank, size, localRank, localSize, host, library}. Idempotent while MPI is up.
Napi::Value MpiInit(const Napi::CallbackInfo& info) {
  Args a(info, "mpiInit", 0, 0);
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (finalised) throw Napi::Error::New(a.env(), "mpiInit: MPI was already finalised; it cannot start again in this process");
  int already = 0;
  MPI_Initialized(&already);
  if (!already) {
    const std::string dl = promote_libmpi();
    int provided = 0;
    const int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) {
      throw Napi::Error::New(a.env(), "mpiInit: MPI_Init_thread failed: " + mpi_error(rc) +
                                          (dl.empty() ? "" : " (making libmpi's symbols global failed: " + dl + ")"));
    }
  }
  g_initialised = true;
  // Errors come back as return codes and become JS exceptions (the default handler would abort silently).
  check(a, MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  int rank = 0, size = 0, local_rank = 0, local_size = 0;
  check(a, MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
  check(a, MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
  // The ranks on this machine: the default thread count divides the cores among them.
  MPI_Comm node = MPI_COMM_NULL;
  check(a, MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
  check(a, MPI_Comm_rank(node, &local_rank), "MPI_Comm_rank");
  check(a, MPI_Comm_size(node, &local_size), "MPI_Comm_size");
  MPI_Comm_free(&node);
  char host[MPI_MAX_PROCESSOR_NAME];
  int host_len = 0;
  check(a, MPI_Get_processor_name(host, &host_len), "MPI_Get_processor_name");
  Napi::Object o = Napi::Object::New(a.env());
  o.Set("rank", rank);
  o.Set("size", size);
  o.Set("localRank", local_rank);
  o.Set("localSize", local_size);
  o.Set("host", std::string(host, static_cast<size_t>(host_len)));
  o.Set("library", library_version());
  return o;
}

Napi::Value MpiFinalize(const Napi::CallbackInfo& info) {
  Args a(info, "mpiFinalize", 0, 0);
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (g_initialised && !finalised) check(a, MPI_Finalize(), "MPI_Finalize");
  return a.env().Undefined();
}

int root_arg(const Args& a, size_t i) {
  const int64_t root = a.size(i, "root");
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (root >= size) a.range_error("root must be a rank in [0, " + std::to_string(size) + "), got " + std::to_string(root));
  return static_cast<int>(root);
}

// Counts are ints in MPI: big buffers go in chunks (BERT-large's 335M parameters are 1.3 GB).
constexpr int64_t kChunkBytes = int64_t{1} << 30;

// mpiBroadcast(buf, root): the bytes of any typed array, from root to every rank (same length everywhere).
Napi::Value MpiBroadcast(const Napi::CallbackInfo& info) {
  Args a(info, "mpiBroadcast", 2, 2);
  require_init(a);
  if (!info[0].IsTypedArray()) a.type_error("buf must be a TypedArray, got " + describe(info[0]));
  auto arr = info[0].As<Napi::TypedArray>();
  const int root = root_arg(a, 1);
  auto* data = static_cast<uint8_t*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
  const int64_t bytes = static_cast<int64_t>(arr.ByteLength());
  for (int64_t off = 0; off < bytes; off += kChunkBytes) {
    const int n = static_cast<int>(std::min(kChunkBytes, bytes - off));
    check(a, MPI_Bcast(data + off, n, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
  }
  return a.env().Undefined();
}

// mpiAllreduce(buf, op): buf (Float32Array or Float64Array) = op over every rank's buf, element-wise, in place.
Napi::Value MpiAllreduce(const Napi::CallbackInfo& info) {
  Args a(info, "mpiAllreduce", 2, 2);
  require_init(a);
  Napi::Value v = info[0];
  const bool f32 = v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array;
  const bool f64 = v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array;
  if (!f32 && !f64) a.type_error("buf must be a Float32Array or a Float64Array, got " + describe(v));
  const std::string op_name = a.string(1, "op");
  MPI_Op op = MPI_SUM;
  if (op_name == "max") op = MPI_MAX;
  else if (op_name == "min") op = MPI_MIN;
  else if (op_name != "sum") a.range_error("op must be 'sum', 'max' or 'min', got '" + op_name + "'");
  auto arr = v.As<Napi::TypedArray>();
  auto* data = static_cast<uint8_t*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
  const int64_t elem = f32 ? 4 : 8;
  const int64_t n = static_cast<int64_t>(arr.ElementLength());
  const int64_t chunk = kChunkBytes / elem;
  for (int64_t off = 0; off < n; off += chunk) {
    const int count = static_cast<int>(std::min(chunk, n - off));
    check(a, MPI_Allreduce(MPI_IN_PLACE, data + off * elem, count, f32 ? MPI_FLOAT : MPI_DOUBLE, op, MPI_COMM_WORLD),
          "MPI_Allreduce");
  }
  return a.env().Undefined();
}

Napi::Value MpiBarrier(const Napi::CallbackInfo& info) {
  Args a(info, "mpiBarrier", 0, 0);
  require_init(a);
  check(a, MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
  return a.env().Undefined();
}

// mpiAbort(code): ends every rank of the job (mpirun kills the others) with exit code `code`; does not return.
Napi::Value MpiAbort(const Napi::CallbackInfo& info) {
  Args a(info, "mpiAbort", 1, 1);
  const int64_t code = a.size(0, "code");
  require_init(a);
  std::fflush(stdout);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, static_cast<int>(std::min<int64_t>(code, 255)));
  return a.env().Undefined();  // not reached
}

#else  // !BERTFIT_HAVE_MPI

template <const char* Name>
Napi::Value Missing(const Napi::CallbackInfo& info) {
  not_built(info, Name);
}

constexpr char kInit[] = "mpiInit", kFinalize[] = "mpiFinalize", kBroadcast[] = "mpiBroadcast",
               kAllreduce[] = "mpiAllreduce", kBarrier[] = "mpiBarrier", kAbort[] = "mpiAbort";
constexpr auto MpiInit = Missing<kInit>;
constexpr auto MpiFinalize = Missing<kFinalize>;
constexpr auto MpiBroadcast = Missing<kBroadcast>;
constexpr auto MpiAllreduce = Missing<kAllreduce>;
constexpr auto MpiBarrier = Missing<kBarrier>;
constexpr auto MpiAbort = Missing<kAbort>;

#endif

}  // namespace

void register_mpi(Napi::Env env, Napi::Object exports) {
  auto def = [&](const char* name, Napi::Function::Callback fn) { exports.Set(name, Napi::Function::New(env, fn, name)); };
  def("mpiInit", MpiInit);
  def("mpiFinalize", MpiFinalize);
  def("mpiBroadcast", MpiBroadcast);
  def("mpiAllreduce", MpiAllreduce);
  def("mpiBarrier", MpiBarrier);
  def("mpiAbort", MpiAbort);
}

}  // namespace bertfit
