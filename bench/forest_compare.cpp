// ForestModel (what ForestPredictor runs) beside tl2cgen's compiled C and two
// XGBoost C libraries, all in this one process, on the same models and rows:
// models of 100x6, 500x6 and 1000x8 trees (binary:logistic, 32 features,
// trained by xgboost 1.7.4), 1, 16, 256 and 10,000 rows per call.
// bench/run_forest_compare.sh prepares everything and runs it:
//
//   forest_compare --models DIR --xgboost-old LIB --xgboost-new LIB
//                  [--json FILE] [--repetitions N] [--min-time SECONDS]
//
// DIR holds what bench/make_forest_models.py and bench/forest_compare_prepare.py
// wrote: forest_<T>x<D>.ubj, features.f32 (10,000 rows, 10% NaN),
// forest_<T>x<D>.reference.f32 (xgboost's own Python predictions) and
// forest_<T>x<D>.so (tl2cgen's C compiled by the script).
//
// Systems, each on the calling thread unless named otherwise:
//   forest     ForestModel, the kernels load() chooses for this CPU
//   forest-2t  the same with a 2-thread ForestThreadPool (10,000 rows only:
//              below 2,048 rows the pool runs the one-thread call)
//   forest-2x  the anchor for forest-2t (10,000 rows only): two
//              threads each predict the whole batch at once, on their own
//              (the calling thread and one Boost.Asio worker woken per call,
//              as the pool's is); its ns per row counts both batches' rows
//   tl2cgen    the compiled model's predict(), one row per call as its
//              runtime does, each row first copied into its Entry array
//              (NaN becomes missing) -- that copy is part of its cost
//   xgb-old    XGBoosterPredictFromDense, nthread=1 (libxgboost 1.7.4)
//   xgb-new    the same through the newer library (the xgboost 3.2 wheel's)
// Both libxgboost files are dlopen'd with RTLD_LOCAL | RTLD_DEEPBIND into
// their own function tables; this program links neither (it links the forest
// objects, not the inferloop library, which links libxgboost), so each call
// reaches the library it names. Each reports its own XGBoostVersion.
//
// Timing: wall time (the 2-thread pool needs it). Each (model, rows, system)
// cell is calibrated to --min-time per repetition, then the repetitions
// interleave all cells, so that a change in the machine's load falls on every
// system alike; a cell's figure is the median of its repetitions' ns per row.
// Bit-exactness: every system predicts all 10,000 rows once in one call and
// once a row per call; each output's bits are compared with the reference.
//
// One file of about 570 lines: six small evaluators and the run that
// interleaves them, which read best together.
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <latch>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>

#include "forest/forest_kernels.hpp"
#include "forest/forest_model.hpp"
#include "inferloop/error.hpp"
#include "inferloop/forest.hpp"
#include "util/checked.hpp"
#include "util/text.hpp"

namespace {

namespace fs = std::filesystem;
using inferloop::Error;

constexpr std::size_t kNumFeatures = 32;
const char* const kModels[] = {"forest_100x6", "forest_500x6", "forest_1000x8"};
constexpr std::size_t kBatches[] = {1, 16, 256, 10000};
constexpr std::size_t kPoolThreads = 2;
constexpr std::size_t kPoolMinRows = 2048;  // forest_threads.cpp: 2 parts of >= 1,024 rows
// Windows of rows the timed calls cycle through (as bench/forest_bench.cpp).
constexpr std::size_t kMaxWindows = 1024;

std::vector<float> read_floats(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(file.string() + ": cannot read it; run bench/run_forest_compare.sh");
  const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

// A shared library opened with its own symbol scope: RTLD_DEEPBIND makes its
// own definitions win over any the process already has (two libxgboost
// versions export the same names; every tl2cgen model exports predict()).
class SharedLibrary {
 public:
  explicit SharedLibrary(const fs::path& file)
      : file_(file), handle_(dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND)) {
    if (handle_ == nullptr) throw Error(file.string() + ": dlopen failed: " + dlerror());
  }
  ~SharedLibrary() { dlclose(handle_); }
  SharedLibrary(const SharedLibrary&) = delete;
  SharedLibrary& operator=(const SharedLibrary&) = delete;

  template <class Function>
  Function symbol(const char* name) const {
    void* address = dlsym(handle_, name);
    if (address == nullptr) throw Error(file_.string() + ": has no symbol " + name);
    return reinterpret_cast<Function>(address);
  }

 private:
  fs::path file_;
  void* handle_;
};

// The part of XGBoost's C API the benchmark calls; the signatures are the
// same in 1.7 and 3.x (c_api.h).
class XGBoostLibrary {
 public:
  using Handle = void*;
  using Ulong = std::uint64_t;  // bst_ulong

  explicit XGBoostLibrary(const fs::path& file)
      : file_(file),
        library_(file),
        version_(library_.symbol<void (*)(int*, int*, int*)>("XGBoostVersion")),
        last_error_(library_.symbol<const char* (*)()>("XGBGetLastError")),
        create_(library_.symbol<int (*)(const Handle*, Ulong, Handle*)>("XGBoosterCreate")),
        load_model_(library_.symbol<int (*)(Handle, const char*)>("XGBoosterLoadModel")),
        set_param_(library_.symbol<int (*)(Handle, const char*, const char*)>("XGBoosterSetParam")),
        proxy_create_(library_.symbol<int (*)(Handle*)>("XGProxyDMatrixCreate")),
        predict_from_dense_(
            library_.symbol<int (*)(Handle, const char*, const char*, Handle, const Ulong**, Ulong*,
                                    const float**)>("XGBoosterPredictFromDense")),
        booster_free_(library_.symbol<int (*)(Handle)>("XGBoosterFree")),
        dmatrix_free_(library_.symbol<int (*)(Handle)>("XGDMatrixFree")) {}

  [[nodiscard]] std::string version() const {
    int major = 0, minor = 0, patch = 0;
    version_(&major, &minor, &patch);
    return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  }
  [[nodiscard]] const fs::path& file() const { return file_; }

  void check(int status, const char* call) const {
    if (status != 0) throw Error(file_.string() + ": " + call + " failed: " + last_error_());
  }

 private:
  friend class XGBoostEvaluator;
  fs::path file_;
  SharedLibrary library_;
  void (*version_)(int*, int*, int*);
  const char* (*last_error_)();
  int (*create_)(const Handle*, Ulong, Handle*);
  int (*load_model_)(Handle, const char*);
  int (*set_param_)(Handle, const char*, const char*);
  int (*proxy_create_)(Handle*);
  int (*predict_from_dense_)(Handle, const char*, const char*, Handle, const Ulong**, Ulong*,
                             const float**);
  int (*booster_free_)(Handle);
  int (*dmatrix_free_)(Handle);
};

// One system on one model: predicts `rows` rows into `out` (probabilities).
class Evaluator {
 public:
  virtual ~Evaluator() = default;
  virtual void predict(const float* features, std::size_t rows, float* out) = 0;
  // Rows predicted by one predict() call of `rows` rows.
  [[nodiscard]] virtual std::size_t rows_done(std::size_t rows) const { return rows; }
};

class ForestEvaluator final : public Evaluator {
 public:
  ForestEvaluator(const inferloop::ForestModel& model, inferloop::ForestThreadPool* pool)
      : model_(model), pool_(pool) {}
  void predict(const float* features, std::size_t rows, float* out) override {
    const std::span<const float> in(features, rows * kNumFeatures);
    const std::span<float> result(out, rows);
    if (pool_ != nullptr) {
      model_.predict(in, rows, result, inferloop::OutputKind::kTransformed, *pool_);
    } else {
      model_.predict(in, rows, result, inferloop::OutputKind::kTransformed);
    }
  }

 private:
  const inferloop::ForestModel& model_;
  inferloop::ForestThreadPool* pool_;
};

// Two threads each predicting the whole batch with one thread, at once: what
// two threads of this machine do side by side, with nothing shared but the
// model and the rows, against which forest-2t's split is judged.
class TwoCallersEvaluator final : public Evaluator {
 public:
  explicit TwoCallersEvaluator(const inferloop::ForestModel& model)
      : model_(model), helper_(1), helper_out_(kHelperRows) {}
  ~TwoCallersEvaluator() override { helper_.join(); }
  void predict(const float* features, std::size_t rows, float* out) override {
    if (rows > kHelperRows) throw Error("forest-2x: at most 10,000 rows per call");
    const auto one_thread = [&](float* into) {
      model_.predict(std::span<const float>(features, rows * kNumFeatures), rows,
                     std::span<float>(into, rows), inferloop::OutputKind::kTransformed);
    };
    std::latch done(1);
    boost::asio::post(helper_, [&] {
      one_thread(helper_out_.data());
      done.count_down();
    });
    one_thread(out);
    done.wait();
  }
  [[nodiscard]] std::size_t rows_done(std::size_t rows) const override { return 2 * rows; }

 private:
  static constexpr std::size_t kHelperRows = 10000;
  const inferloop::ForestModel& model_;
  boost::asio::thread_pool helper_;
  std::vector<float> helper_out_;
};

// tl2cgen's generated C (header.h): union Entry {int missing; float fvalue;
// int qvalue;}, missing == -1 marks a missing feature; predict() adds to
// result[0], so it starts at 0, and applies the sigmoid unless pred_margin.
class Tl2cgenEvaluator final : public Evaluator {
 public:
  explicit Tl2cgenEvaluator(const fs::path& library_file)
      : library_(library_file),
        predict_(library_.symbol<void (*)(Entry*, int, float*)>("predict")) {
    const auto width = library_.symbol<std::int32_t (*)()>("get_num_feature")();
    if (width != static_cast<std::int32_t>(kNumFeatures)) {
      throw Error(library_file.string() + ": takes " + std::to_string(width) + " features, not 32");
    }
  }
  void predict(const float* features, std::size_t rows, float* out) override {
    for (std::size_t r = 0; r < rows; ++r) {
      const float* row = features + r * kNumFeatures;
      for (std::size_t f = 0; f < kNumFeatures; ++f) {
        if (std::isnan(row[f])) {
          entries_[f].missing = -1;
        } else {
          entries_[f].fvalue = row[f];
        }
      }
      float result = 0.0F;
      predict_(entries_, 0, &result);
      out[r] = result;
    }
  }

 private:
  union Entry {
    int missing;
    float fvalue;
    int qvalue;
  };
  SharedLibrary library_;
  void (*predict_)(Entry*, int, float*);
  Entry entries_[kNumFeatures]{};
};

// XGBoosterPredictFromDense with a reused proxy DMatrix and nthread=1, as
// XGBoostPredictor calls it; the array-interface text is built per call, as
// XGBoostPredictor does for a caller's rows.
class XGBoostEvaluator final : public Evaluator {
 public:
  XGBoostEvaluator(const XGBoostLibrary& library, const fs::path& model_file) : library_(library) {
    library_.check(library_.create_(nullptr, 0, &booster_), "XGBoosterCreate");
    library_.check(library_.load_model_(booster_, model_file.c_str()), "XGBoosterLoadModel");
    library_.check(library_.set_param_(booster_, "nthread", "1"), "XGBoosterSetParam(nthread)");
    library_.check(library_.proxy_create_(&proxy_), "XGProxyDMatrixCreate");
  }
  ~XGBoostEvaluator() override {
    library_.dmatrix_free_(proxy_);
    library_.booster_free_(booster_);
  }
  XGBoostEvaluator(const XGBoostEvaluator&) = delete;
  XGBoostEvaluator& operator=(const XGBoostEvaluator&) = delete;

  void predict(const float* features, std::size_t rows, float* out) override {
    char interface[160];
    std::snprintf(interface, sizeof interface,
                  R"({"data":[%llu,true],"shape":[%zu,%zu],"typestr":"<f4","version":3})",
                  static_cast<unsigned long long>(reinterpret_cast<std::uintptr_t>(features)), rows,
                  kNumFeatures);
    const XGBoostLibrary::Ulong* shape = nullptr;
    XGBoostLibrary::Ulong dims = 0;
    const float* result = nullptr;
    library_.check(library_.predict_from_dense_(booster_, interface, kConfig, proxy_, &shape, &dims,
                                                &result),
                   "XGBoosterPredictFromDense");
    std::memcpy(out, result, rows * sizeof(float));
  }

 private:
  static constexpr const char* kConfig =
      R"({"type":0,"training":false,"iteration_begin":0,"iteration_end":0,"strict_shape":false,"cache_id":0,"missing":NaN})";
  const XGBoostLibrary& library_;
  XGBoostLibrary::Handle booster_ = nullptr;
  XGBoostLibrary::Handle proxy_ = nullptr;
};

struct Options {
  fs::path models;
  fs::path xgboost_old;
  fs::path xgboost_new;
  fs::path json;
  int repetitions = 7;
  double min_seconds = 0.05;
};

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) throw Error(inferloop::detail::quote(flag) + ": expected a value after it");
    const std::string value = argv[++i];
    if (flag == "--models") {
      options.models = value;
    } else if (flag == "--xgboost-old") {
      options.xgboost_old = value;
    } else if (flag == "--xgboost-new") {
      options.xgboost_new = value;
    } else if (flag == "--json") {
      options.json = value;
    } else if (flag == "--repetitions") {
      options.repetitions = inferloop::detail::parse_integer<int>(value, "--repetitions", 1, 1000);
    } else if (flag == "--min-time") {
      options.min_seconds = inferloop::detail::parse_real(value, "--min-time", 0.001, 60.0);
    } else {
      throw Error("unknown flag " + inferloop::detail::quote(flag) +
                  "; the flags are listed at the top of bench/forest_compare.cpp");
    }
  }
  if (options.models.empty() || options.xgboost_old.empty() || options.xgboost_new.empty()) {
    throw Error("expected --models DIR --xgboost-old LIB --xgboost-new LIB");
  }
  return options;
}

// Distance in representable floats between two finite floats of one sign
// (the outputs are probabilities), 0 when the bits are equal.
std::int64_t ulp_distance(float a, float b) {
  std::int32_t bits_a = 0, bits_b = 0;
  std::memcpy(&bits_a, &a, sizeof a);
  std::memcpy(&bits_b, &b, sizeof b);
  return std::abs(static_cast<std::int64_t>(bits_a) - static_cast<std::int64_t>(bits_b));
}

struct Exactness {
  std::size_t rows_differing = 0;
  std::int64_t max_ulp = 0;
};

// All rows in one call, then a row per call, each compared with the reference.
Exactness check_exactness(Evaluator& evaluator, const std::vector<float>& features,
                          const std::vector<float>& reference) {
  const std::size_t rows = reference.size();
  std::vector<float> batch(rows), single(rows);
  evaluator.predict(features.data(), rows, batch.data());
  for (std::size_t r = 0; r < rows; ++r) evaluator.predict(&features[r * kNumFeatures], 1, &single[r]);
  Exactness exactness;
  for (std::size_t r = 0; r < rows; ++r) {
    const std::int64_t worst =
        std::max(ulp_distance(batch[r], reference[r]), ulp_distance(single[r], reference[r]));
    if (worst != 0) ++exactness.rows_differing;
    exactness.max_ulp = std::max(exactness.max_ulp, worst);
  }
  return exactness;
}

// One timed cell: `calls` calls of `batch` rows, cycling through windows.
struct Cell {
  Evaluator* evaluator;
  std::size_t batch;
  std::size_t calls = 1;
  std::vector<double> ns_per_row;  // one per repetition
};

double run_cell(Cell& cell, const std::vector<float>& features, std::vector<float>& out) {
  const std::size_t total_rows = features.size() / kNumFeatures;
  const std::size_t windows = std::min(kMaxWindows, total_rows / cell.batch);
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t call = 0; call < cell.calls; ++call) {
    const std::size_t first = (call % windows) * cell.batch;
    cell.evaluator->predict(&features[first * kNumFeatures], cell.batch, out.data());
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  return elapsed.count() * 1e9 /
         static_cast<double>(cell.calls * cell.evaluator->rows_done(cell.batch));
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

int run(const Options& options) {
  const XGBoostLibrary xgboost_old(options.xgboost_old);
  const XGBoostLibrary xgboost_new(options.xgboost_new);
  const std::vector<float> features = read_floats(options.models / "features.f32");
  const std::string old_name = "xgb " + xgboost_old.version();
  const std::string new_name = "xgb " + xgboost_new.version();
  const std::vector<std::string> systems = {"forest", "forest-2t", "forest-2x", "tl2cgen",
                                            old_name, new_name};

  // Everything each model needs, loaded before any timing.
  struct ModelUnderTest {
    std::unique_ptr<inferloop::ForestModel> model;
    std::map<std::string, std::unique_ptr<Evaluator>> evaluators;
    std::vector<float> reference;
  };
  inferloop::ForestThreadPool pool(kPoolThreads);
  std::vector<ModelUnderTest> models;
  std::string kernels;
  for (const char* name : kModels) {
    ModelUnderTest& m = models.emplace_back();
    m.model = std::make_unique<inferloop::ForestModel>(
        inferloop::ForestModel::load(options.models / (std::string(name) + ".ubj")));
    kernels = inferloop::detail::to_string(inferloop::detail::ForestModelAccess::isa_of(*m.model));
    m.evaluators["forest"] = std::make_unique<ForestEvaluator>(*m.model, nullptr);
    m.evaluators["forest-2t"] = std::make_unique<ForestEvaluator>(*m.model, &pool);
    m.evaluators["forest-2x"] = std::make_unique<TwoCallersEvaluator>(*m.model);
    m.evaluators["tl2cgen"] =
        std::make_unique<Tl2cgenEvaluator>(options.models / (std::string(name) + ".so"));
    m.evaluators[old_name] =
        std::make_unique<XGBoostEvaluator>(xgboost_old, options.models / (std::string(name) + ".ubj"));
    m.evaluators[new_name] =
        std::make_unique<XGBoostEvaluator>(xgboost_new, options.models / (std::string(name) + ".ubj"));
    m.reference = read_floats(options.models / (std::string(name) + ".reference.f32"));
    if (m.reference.size() * kNumFeatures != features.size()) {
      throw Error(std::string(name) + ".reference.f32: expected one value per row of features.f32");
    }
  }
  std::printf("libxgboost %s: %s\nlibxgboost %s: %s\nForestModel kernels: %s\n",
              xgboost_old.version().c_str(), xgboost_old.file().c_str(),
              xgboost_new.version().c_str(), xgboost_new.file().c_str(), kernels.c_str());

  nlohmann::json report = {
      {"xgboost_old", {{"version", xgboost_old.version()}, {"library", xgboost_old.file()}}},
      {"xgboost_new", {{"version", xgboost_new.version()}, {"library", xgboost_new.file()}}},
      {"forest_kernels", kernels},
      {"repetitions", options.repetitions},
      {"min_time_s", options.min_seconds}};

  // Bit-exactness against xgboost's Python predictions.
  std::printf("\nBit-exactness against xgboost's Python predict (10,000 rows; rows differing, "
              "max ulp):\n%-14s", "system");
  for (const char* name : kModels) std::printf(" %18s", name + 7);
  std::printf("\n");
  for (const std::string& system : systems) {
    if (system == "forest-2x") continue;  // two calls of forest's own, on two threads
    std::printf("%-14s", system.c_str());
    for (std::size_t m = 0; m < models.size(); ++m) {
      const Exactness e = check_exactness(*models[m].evaluators[system], features, models[m].reference);
      report["exactness"][system][kModels[m]] = {{"rows_differing", e.rows_differing},
                                                 {"max_ulp", e.max_ulp}};
      std::printf(" %10zu, %2lld ulp", e.rows_differing, static_cast<long long>(e.max_ulp));
    }
    std::printf("\n");
  }

  // Calibration, then interleaved repetitions.
  std::vector<float> out(10000);
  std::map<std::tuple<std::size_t, std::size_t, std::string>, Cell> cells;
  for (std::size_t m = 0; m < models.size(); ++m) {
    for (const std::size_t batch : kBatches) {
      for (const std::string& system : systems) {
        if ((system == "forest-2t" || system == "forest-2x") && batch < kPoolMinRows) continue;
        Cell cell{models[m].evaluators[system].get(), batch, 1, {}};
        while (true) {
          const double ns = run_cell(cell, features, out);
          if (ns * static_cast<double>(cell.calls * batch) >= options.min_seconds * 1e9) break;
          cell.calls *= 2;
        }
        cells.emplace(std::make_tuple(m, batch, system), std::move(cell));
      }
    }
  }
  for (int repetition = 0; repetition < options.repetitions; ++repetition) {
    for (auto& [key, cell] : cells) cell.ns_per_row.push_back(run_cell(cell, features, out));
  }

  const auto ns_per_row = [&](std::size_t m, std::size_t batch, const std::string& system) {
    const auto found = cells.find({m, batch, system});
    return found == cells.end() ? 0.0 : median(found->second.ns_per_row);
  };
  std::printf("\nns per row, median of %d repetitions (wall time; forest-2t: 2-thread pool;\n"
              "1t/2x: forest over two threads each predicting the batch on their own, what\n"
              "two threads of this machine give side by side, the anchor for 1t/2t):\n",
              options.repetitions);
  std::printf("%-8s %6s %9s %9s %9s %9s %9s %10s %10s %8s %8s\n", "model", "rows", "forest",
              "forest-2t", "tl2cgen", old_name.c_str(), new_name.c_str(), "tl2c/fst", "new/fst",
              "1t/2t", "1t/2x");
  for (std::size_t m = 0; m < models.size(); ++m) {
    for (const std::size_t batch : kBatches) {
      const double forest = ns_per_row(m, batch, "forest");
      const double pooled = ns_per_row(m, batch, "forest-2t");
      const double two_callers = ns_per_row(m, batch, "forest-2x");
      const double tl2cgen = ns_per_row(m, batch, "tl2cgen");
      const double old_xgb = ns_per_row(m, batch, old_name);
      const double new_xgb = ns_per_row(m, batch, new_name);
      nlohmann::json& row = report["cells"].emplace_back();
      row = {{"model", kModels[m]}, {"rows_per_call", batch}};
      for (const std::string& system : systems) {
        const auto found = cells.find({m, batch, system});
        if (found == cells.end()) continue;
        row["ns_per_row"][system] = median(found->second.ns_per_row);
        row["repetitions_ns_per_row"][system] = found->second.ns_per_row;
      }
      row["tl2cgen_over_forest"] = tl2cgen / forest;
      row["xgb_new_over_forest"] = new_xgb / forest;
      row["xgb_old_over_forest"] = old_xgb / forest;
      if (pooled > 0) row["forest_1t_over_2t"] = forest / pooled;
      if (two_callers > 0) row["forest_1t_over_2x"] = forest / two_callers;
      char pooled_text[16] = "-", speedup_text[16] = "-", alone_text[16] = "-";
      if (pooled > 0) {
        std::snprintf(pooled_text, sizeof pooled_text, "%.1f", pooled);
        std::snprintf(speedup_text, sizeof speedup_text, "%.2fx", forest / pooled);
      }
      if (two_callers > 0) {
        std::snprintf(alone_text, sizeof alone_text, "%.2fx", forest / two_callers);
      }
      std::printf("%-8s %6zu %9.1f %9s %9.1f %9.1f %9.1f %9.2fx %9.2fx %8s %8s\n",
                  kModels[m] + 7, batch, forest, pooled_text, tl2cgen, old_xgb, new_xgb,
                  tl2cgen / forest, new_xgb / forest, speedup_text, alone_text);
    }
  }

  // The goals of issue 15, as ratios from this run.
  const double single_row = ns_per_row(0, 1, "tl2cgen") / ns_per_row(0, 1, "forest");
  std::printf("\nGoals (this run):\n  single row, 100x6: tl2cgen / forest = %.2fx (goal >= 8x): %s\n",
              single_row, single_row >= 8 ? "met" : "NOT met");
  report["goals"]["single_row_vs_tl2cgen_100x6"] = {{"ratio", single_row}, {"met", single_row >= 8}};
  for (std::size_t m = 0; m < models.size(); ++m) {
    const double vs_xgb = ns_per_row(m, 10000, new_name) / ns_per_row(m, 10000, "forest");
    const double threads = ns_per_row(m, 10000, "forest") / ns_per_row(m, 10000, "forest-2t");
    const double side_by_side = ns_per_row(m, 10000, "forest") / ns_per_row(m, 10000, "forest-2x");
    std::printf("  10,000 rows, %-6s: %s / forest = %.2fx (goal >= 8x): %s; 1 thread / 2 threads "
                "= %.2fx (goal >= 1.8x): %s (two threads on their own: %.2fx)\n",
                kModels[m] + 7, new_name.c_str(), vs_xgb, vs_xgb >= 8 ? "met" : "NOT met", threads,
                threads >= 1.8 ? "met" : "NOT met", side_by_side);
    report["goals"]["batch_10k_vs_xgb_new"][kModels[m]] = {{"ratio", vs_xgb}, {"met", vs_xgb >= 8}};
    report["goals"]["two_threads_10k"][kModels[m]] = {
        {"ratio", threads}, {"met", threads >= 1.8}, {"two_callers_ratio", side_by_side}};
  }
  if (!options.json.empty()) {
    std::ofstream(options.json) << report.dump(2) << '\n';
    std::printf("\nwrote %s\n", options.json.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_options(argc, argv));
  } catch (const std::exception& error) {
    std::fprintf(stderr, "forest_compare: %s\n", error.what());
    return 1;
  }
}
