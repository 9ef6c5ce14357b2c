// XGBoostPredictor over XGBoost's C API. See xgboost_predictor.hpp for the
// lifecycle and threading contract.
#include "xgboost/xgboost_predictor.hpp"

#include <dlfcn.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "inferloop/error.hpp"
#include "model/admission.hpp"
#include "model/predictor_support.hpp"
#include "util/device.hpp"
#include "util/text.hpp"

namespace inferloop {
namespace {

using detail::version_text;

std::string last_xgboost_error() {
  std::string text = XGBGetLastError();
  // XGBoost appends a native stack trace that says nothing to a user.
  if (const std::size_t trace = text.find("\nStack trace:"); trace != std::string::npos) {
    text.resize(trace);
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

void check_call(int status, std::string_view call, const std::filesystem::path& model_file) {
  if (status != 0) {
    throw Error(std::string(call) + " failed for model " + model_file.string() + ": " +
                last_xgboost_error());
  }
}

bool library_has_cuda() {
  const char* info = nullptr;
  if (XGBuildInfo(&info) != 0 || info == nullptr) return false;
  const nlohmann::json build = nlohmann::json::parse(info, nullptr, /*allow_exceptions=*/false);
  return build.is_object() && build.value("USE_CUDA", false);
}

// The file the dynamic loader took libxgboost's C API from (so a message can
// say which library lacks CUDA), or a description when it cannot tell (a
// static libxgboost is part of the executable).
std::string linked_xgboost_file() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&XGBoosterCreate), &info) != 0 && info.dli_fname != nullptr) {
    return info.dli_fname;
  }
  return "(linked statically)";
}

// An XGBoost booster. Owned by one replica, or shared by every replica of a
// start() when share_booster is set (prediction on it is thread-safe).
class Booster {
 public:
  // Loads the bytes the admission gate validated, never the file again: a
  // file replaced after resolution cannot reach libxgboost unchecked.
  Booster(const detail::AdmittedModel& model, const detail::DeviceSpec& device, int threads)
      : model_file_(model.source_name) {
    check_call(XGBoosterCreate(nullptr, 0, &handle_), "XGBoosterCreate", model_file_);
    // From a buffer, XGBoost picks JSON or UBJSON by content; the gate parsed
    // the same bytes as model.format, and content of the other format does
    // not parse as it, so both read the bytes the same way.
    if (XGBoosterLoadModelFromBuffer(handle_, model.bytes.data(),
                                     static_cast<bst_ulong>(model.bytes.size())) != 0) {
      const std::string message = "libxgboost " + version_text(linked_xgboost_version()) +
                                  " cannot load the model " + model_file_.string() + " (" +
                                  to_string(model.format) + "): " + last_xgboost_error();
      XGBoosterFree(handle_);
      throw Error(message);
    }
    try {
      set_param("nthread", std::to_string(threads));
      if (linked_xgboost_version() >= std::vector<int>{2, 0}) {
        set_param("device", device.cuda ? "cuda:" + std::to_string(device.ordinal) : "cpu");
      } else if (device.cuda) {
        // 1.x has no `device`: the GPU is chosen by gpu_id and the predictor.
        set_param("gpu_id", std::to_string(device.ordinal));
        set_param("predictor", "gpu_predictor");
      }
      bst_ulong features = 0;
      check_call(XGBoosterGetNumFeature(handle_, &features), "XGBoosterGetNumFeature",
                 model_file_);
      num_features_ = static_cast<std::size_t>(features);
    } catch (...) {
      XGBoosterFree(handle_);
      throw;
    }
  }
  Booster(const Booster&) = delete;
  Booster& operator=(const Booster&) = delete;
  ~Booster() { XGBoosterFree(handle_); }

  [[nodiscard]] BoosterHandle handle() const noexcept { return handle_; }
  [[nodiscard]] std::size_t num_features() const noexcept { return num_features_; }

 private:
  void set_param(const char* name, const std::string& value) {
    if (XGBoosterSetParam(handle_, name, value.c_str()) != 0) {
      throw Error(std::string("XGBoosterSetParam(") + name + "=" + value + ") failed for model " +
                  model_file_.string() + ": " + last_xgboost_error());
    }
  }

  std::filesystem::path model_file_;
  BoosterHandle handle_ = nullptr;
  std::size_t num_features_ = 0;
};

// Refuses a model saved by a newer XGBoost than the linked one. Not a
// formality: libxgboost 1.7.4 loads a 3.x model without any error, fails to
// parse its vector base_score ("[5E-1]") and silently uses 0.5 instead; on
// inferloop's test models that moved every prediction (binary:logistic by up
// to 0.02, reg:squarederror by up to 9.5). Patch releases do not change the
// format, so major.minor is what is compared.
void check_model_version(const ResolvedModel& model, const detail::AdmittedModel& admitted) {
  if (admitted.lightgbm) {
    // A LightGBM text model records no xgboost version, and libxgboost cannot read it.
    throw Error("model " + model.model_file.string() + " (model_uri '" + model.uri +
                "') is a LightGBM model; XGBoostPredictor serves XGBoost models: use "
                "predictor_class_name: ForestPredictor, which evaluates LightGBM models");
  }
  const std::vector<int>& saved_by = admitted.saved_by_version;  // {major, minor, patch}
  const std::vector<int> library = linked_xgboost_version();
  const std::vector<int> saved(saved_by.begin(), saved_by.begin() + 2);
  const std::vector<int> linked(library.begin(), library.begin() + 2);
  if (admitted.leaf_size > 1 && linked < std::vector<int>{3, 2}) {
    // The gate admits vector leaves in xgboost 3.2's layout only (leaf_weights);
    // an older libxgboost would read the leaves' unused split_conditions instead.
    throw Error("model " + model.model_file.string() + " (model_uri '" + model.uri +
                "') has vector leaves (multi_strategy=\"multi_output_tree\") in xgboost 3.2's "
                "layout, which the linked libxgboost " + version_text(library) +
                " does not read; use predictor_class_name: ForestPredictor, or build inferloop "
                "against libxgboost 3.2 or newer with "
                "-DINFERLOOP_XGBOOST_LIBRARY=/path/to/libxgboost.so");
  }
  if (saved <= linked) return;
  throw Error("model " + model.model_file.string() + " (model_uri '" + model.uri +
              "') was saved by xgboost " + version_text(saved_by) +
              ", newer than the linked libxgboost " + version_text(library) +
              ", which would load it but predict wrong values. Either train and save the model "
              "with xgboost " + std::to_string(linked[0]) + "." + std::to_string(linked[1]) +
              " or older (an older xgboost cannot convert it: loading it there has the same "
              "fault), or build inferloop against libxgboost " + version_text(saved_by) +
              " or newer with "
              "-DINFERLOOP_XGBOOST_LIBRARY=/path/to/libxgboost.so");
}

class XGBoostPredictor final : public Predictor {
 public:
  explicit XGBoostPredictor(const PredictorContext& context)
      : model_file_(context.model.model_file), device_(context.config.device) {
    const InferenceConfig& config = context.config;
    // The gate's admission from resolve_model(), or the file admitted now
    // for a ResolvedModel made by hand: libxgboost never sees anything else.
    const auto admitted = detail::admission_of(context.model);
    check_model_version(context.model, *admitted);
    const detail::DeviceSpec device = detail::parse_device(config.device);
    if (device.cuda && !library_has_cuda()) {
      throw Error("device: " + config.device + ": the linked libxgboost " +
                  version_text(linked_xgboost_version()) + " (" + linked_xgboost_file() +
                  ") was built without CUDA; use device: cpu, or build inferloop against a "
                  "CUDA-enabled libxgboost, e.g. the one in the xgboost-cu13 wheel: "
                  "-DINFERLOOP_XGBOOST_LIBRARY=<site-packages>/xgboost/lib/libxgboost.so");
    }
    booster_ = share_or_load(context, *admitted, device);
    num_features_ = booster_->num_features();
    detail::check_model_width(context, num_features_, "XGBoosterGetNumFeature");

    DMatrixHandle proxy = nullptr;
    check_call(XGProxyDMatrixCreate(&proxy), "XGProxyDMatrixCreate", model_file_);
    proxy_.reset(proxy);
    nlohmann::json predict_config = {
        {"type", config.output == OutputKind::kMargin ? 1 : 0},
        {"training", false},
        {"iteration_begin", 0},
        {"iteration_end", 0},
        {"strict_shape", false},
        {"cache_id", 0},  // required (and 0) by 1.4-1.7
    };
    // JSON has no NaN and nlohmann writes it as null, which XGBoost rejects
    // for `missing`; XGBoost's own parser reads the NaN literal.
    predict_config_ = predict_config.dump();
    predict_config_.insert(predict_config_.size() - 1, ",\"missing\":NaN");

    // The first call configures XGBoost's learner (under a lock); doing it
    // here also reports how many values a row produces.
    std::vector<float> nan_row(num_features_, std::numeric_limits<float>::quiet_NaN());
    const auto [result, count] = predict_raw(nan_row.data(), 1);
    (void)result;
    if (count == 0) {
      throw Error("model " + model_file_.string() + " returned no prediction for one row");
    }
    num_outputs_ = count;
  }

  XGBoostPredictor(const XGBoostPredictor&) = delete;
  XGBoostPredictor& operator=(const XGBoostPredictor&) = delete;
  ~XGBoostPredictor() override = default;

  [[nodiscard]] std::size_t num_features() const noexcept override { return num_features_; }
  [[nodiscard]] std::size_t num_outputs() const noexcept override { return num_outputs_; }

  void predict(std::span<const float> features, std::size_t rows, std::span<float> out) override {
    detail::check_predict_shape("XGBoostPredictor", features, rows, out, num_features_,
                                num_outputs_);
    const auto [result, count] = predict_raw(features.data(), rows);
    if (count != out.size()) {
      throw Error("model " + model_file_.string() + " returned " + std::to_string(count) +
                  " values for " + std::to_string(rows) + " rows, expected " +
                  std::to_string(out.size()));
    }
    // XGBoost's result buffer belongs to the booster and this thread, and
    // the next call overwrites it.
    std::memcpy(out.data(), result, count * sizeof(float));
  }

  [[nodiscard]] std::string describe() const override {
    return "XGBoostPredictor(" + model_file_.string() + ", xgboost " +
           version_text(linked_xgboost_version()) + ", device " + device_ + ")";
  }

 private:
  std::shared_ptr<Booster> share_or_load(const PredictorContext& context,
                                         const detail::AdmittedModel& admitted,
                                         const detail::DeviceSpec& device) {
    if (!context.config.share_booster) {
      return std::make_shared<Booster>(admitted, device, context.config.predictor_threads);
    }
    return detail::shared_model<Booster>(
        context.shared, "XGBoostPredictor:" + model_file_.string() + ":" + device_, [&] {
          return std::make_shared<Booster>(admitted, device, context.config.predictor_threads);
        });
  }

  struct RawResult {
    const float* values;
    std::size_t count;
  };

  RawResult predict_raw(const float* features, std::size_t rows) {
    // A fixed-format __array_interface__ string: cheaper per call than a
    // JSON library, and nothing in it needs escaping.
    const int length = std::snprintf(
        array_interface_, sizeof(array_interface_),
        R"({"data":[%llu,true],"shape":[%zu,%zu],"typestr":"<f4","version":3})",
        static_cast<unsigned long long>(reinterpret_cast<std::uintptr_t>(features)), rows,
        num_features_);
    if (length < 0 || static_cast<std::size_t>(length) >= sizeof(array_interface_)) {
      throw Error("XGBoostPredictor: array interface does not fit its buffer");
    }
    const bst_ulong* shape = nullptr;
    bst_ulong dimensions = 0;
    const float* result = nullptr;
    check_call(XGBoosterPredictFromDense(booster_->handle(), array_interface_,
                                         predict_config_.c_str(), proxy_.get(), &shape, &dimensions,
                                         &result),
               "XGBoosterPredictFromDense", model_file_);
    std::size_t count = dimensions == 0 ? 0 : 1;
    for (bst_ulong d = 0; d < dimensions; ++d) count *= static_cast<std::size_t>(shape[d]);
    return {result, count};
  }

  std::filesystem::path model_file_;
  std::string device_;
  std::shared_ptr<Booster> booster_;
  struct ProxyFree {
    void operator()(DMatrixHandle proxy) const noexcept { XGDMatrixFree(proxy); }
  };
  // This replica's own: XGBoost mutates it on every call.
  std::unique_ptr<void, ProxyFree> proxy_;
  std::string predict_config_;     // constant per predictor
  char array_interface_[160] = {};
  std::size_t num_features_ = 0;
  std::size_t num_outputs_ = 0;
};

}  // namespace

std::vector<int> linked_xgboost_version() {
  int major = 0;
  int minor = 0;
  int patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  return {major, minor, patch};
}

namespace detail {

std::unique_ptr<Predictor> make_xgboost_predictor(const PredictorContext& context) {
  return std::make_unique<XGBoostPredictor>(context);
}

}  // namespace detail
}  // namespace inferloop
