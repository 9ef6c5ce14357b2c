// LightGBMPredictor over LightGBM's C API. See lightgbm_predictor.hpp for
// the lifecycle and threading contract.
#include "lightgbm/lightgbm_predictor.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "inferloop/error.hpp"
#include "lightgbm/lightgbm_c_api.hpp"
#include "model/admission.hpp"
#include "model/predictor_support.hpp"
#include "util/checked.hpp"

namespace inferloop::detail {
namespace {

// "lightgbm 4.7.0 (/path/lib_lightgbm.so)" for messages.
std::string library_text(const LightGBMCApi& api) {
  return "lightgbm " + (api.version.empty() ? std::string("(version unknown)") : api.version) +
         " (" + api.library_file + ")";
}

std::string last_lightgbm_error(const LightGBMCApi& api) {
  const char* text = api.get_last_error();
  return text != nullptr ? std::string(text) : std::string("no message");
}

void check_call(const LightGBMCApi& api, int status, std::string_view call,
                const std::string& model_file) {
  if (status != 0) {
    throw Error(std::string(call) + " failed for LightGBM model " + model_file + ": " +
                last_lightgbm_error(api));
  }
}

// A LightGBM booster, owned by one replica or shared by every replica of a
// start() when share_booster is set.
class Booster {
 public:
  // Loads the bytes the admission gate validated, never the file again.
  Booster(const LightGBMCApi& api, const AdmittedModel& model) : api_(api), model_file_(model.source_name) {
    // LightGBM reads a NUL-terminated string.
    const std::string text(model.bytes.begin(), model.bytes.end());
    int iterations = 0;
    if (api_.load_model_from_string(text.c_str(), &iterations, &handle_) != 0) {
      throw Error(library_text(api_) + " cannot load the model " + model_file_ + ": " +
                  last_lightgbm_error(api_));
    }
    try {
      int features = 0;
      int classes = 0;
      check_call(api_, api_.get_num_feature(handle_, &features), "LGBM_BoosterGetNumFeature", model_file_);
      check_call(api_, api_.get_num_classes(handle_, &classes), "LGBM_BoosterGetNumClasses", model_file_);
      num_features_ = narrow<std::size_t>(features, "LGBM_BoosterGetNumFeature");
      num_outputs_ = narrow<std::size_t>(classes, "LGBM_BoosterGetNumClasses");
      if (num_features_ == 0 || num_outputs_ == 0) {
        throw Error("LightGBM reports " + std::to_string(features) + " features and " +
                    std::to_string(classes) + " outputs for the model " + model_file_ +
                    "; it cannot be served");
      }
    } catch (...) {
      api_.booster_free(handle_);
      throw;
    }
  }
  Booster(const Booster&) = delete;
  Booster& operator=(const Booster&) = delete;
  ~Booster() { api_.booster_free(handle_); }

  [[nodiscard]] BoosterHandle handle() const noexcept { return handle_; }
  [[nodiscard]] std::size_t num_features() const noexcept { return num_features_; }
  [[nodiscard]] std::size_t num_outputs() const noexcept { return num_outputs_; }

 private:
  const LightGBMCApi& api_;
  std::string model_file_;
  BoosterHandle handle_ = nullptr;
  std::size_t num_features_ = 0;
  std::size_t num_outputs_ = 0;
};

class LightGBMPredictor final : public Predictor {
 public:
  explicit LightGBMPredictor(const PredictorContext& context)
      : api_(lightgbm_c_api()),
        model_file_(context.model.model_file.string()),
        predict_type_(context.config.output == OutputKind::kMargin ? C_API_PREDICT_RAW_SCORE
                                                                   : C_API_PREDICT_NORMAL),
        parameters_("num_threads=" + std::to_string(context.config.predictor_threads)) {
    const InferenceConfig& config = context.config;
    if (config.device != "cpu") {
      throw Error("device: " + config.device + ": LightGBMPredictor runs LightGBM's C API on the "
                  "CPU only; set device: cpu");
    }
    const auto admitted = admission_of(context.model);
    if (!admitted->lightgbm) {
      throw Error("model " + model_file_ + " (model_uri '" + context.model.uri + "') is an " +
                  "XGBoost model; LightGBMPredictor serves LightGBM models: use "
                  "predictor_class_name: XGBoostPredictor or ForestPredictor");
    }
    booster_ = share_or_load(context, *admitted);
    num_features_ = booster_->num_features();
    num_outputs_ = booster_->num_outputs();
    check_model_width(context, num_features_, "LGBM_BoosterGetNumFeature");
    columns_ = narrow<std::int32_t>(num_features_, "LightGBMPredictor: features per row");

    FastConfigHandle fast_config = nullptr;
    check_call(api_,
               api_.single_row_fast_init(booster_->handle(), predict_type_, 0, -1,
                                         C_API_DTYPE_FLOAT32, columns_, parameters_.c_str(),
                                         &fast_config),
               "LGBM_BoosterPredictForMatSingleRowFastInit", model_file_);
    fast_config_ = fast_config;
    doubles_.resize(num_outputs_);
  }

  LightGBMPredictor(const LightGBMPredictor&) = delete;
  LightGBMPredictor& operator=(const LightGBMPredictor&) = delete;
  ~LightGBMPredictor() override { api_.fast_config_free(fast_config_); }

  [[nodiscard]] std::size_t num_features() const noexcept override { return num_features_; }
  [[nodiscard]] std::size_t num_outputs() const noexcept override { return num_outputs_; }

  void predict(std::span<const float> features, std::size_t rows, std::span<float> out) override {
    check_predict_shape("LightGBMPredictor", features, rows, out, num_features_, num_outputs_);
    // Grows to the largest batch seen, then stays: no allocation per call.
    if (doubles_.size() < out.size()) doubles_.resize(out.size());
    std::int64_t written = 0;
    if (rows == 1) {
      check_call(api_, api_.single_row_fast(fast_config_, features.data(), &written, doubles_.data()),
                 "LGBM_BoosterPredictForMatSingleRowFast", model_file_);
    } else {
      check_call(api_,
                 api_.predict_for_mat(booster_->handle(), features.data(), C_API_DTYPE_FLOAT32,
                                      narrow<std::int32_t>(rows, "LightGBMPredictor: rows per call"),
                                      columns_, /*is_row_major=*/1, predict_type_,
                                      /*start_iteration=*/0, /*num_iteration=*/-1,
                                      parameters_.c_str(), &written, doubles_.data()),
                 "LGBM_BoosterPredictForMat", model_file_);
    }
    if (written < 0 || static_cast<std::uint64_t>(written) != out.size()) {
      throw Error("LightGBM returned " + std::to_string(written) + " values for " +
                  std::to_string(rows) + " rows of model " + model_file_ + ", expected " +
                  std::to_string(out.size()));
    }
    // LightGBM's double, rounded once (as ForestPredictor rounds its own).
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(doubles_[i]);
  }

  [[nodiscard]] std::string describe() const override {
    return "LightGBMPredictor(" + model_file_ + ", " + library_text(api_) + ", device cpu)";
  }

 private:
  std::shared_ptr<Booster> share_or_load(const PredictorContext& context,
                                         const AdmittedModel& admitted) {
    if (!context.config.share_booster) return std::make_shared<Booster>(api_, admitted);
    return shared_model<Booster>(context.shared, "LightGBMPredictor:" + model_file_,
                                 [&] { return std::make_shared<Booster>(api_, admitted); });
  }

  const LightGBMCApi& api_;
  std::string model_file_;
  int predict_type_;
  std::string parameters_;  // LightGBM's key=value prediction parameters
  std::shared_ptr<Booster> booster_;
  FastConfigHandle fast_config_ = nullptr;  // this replica's: LightGBM locks it per call
  std::vector<double> doubles_;             // LightGBM's output before rounding
  std::size_t num_features_ = 0;
  std::size_t num_outputs_ = 0;
  std::int32_t columns_ = 0;
};

}  // namespace

std::unique_ptr<Predictor> make_lightgbm_predictor(const PredictorContext& context) {
  return std::make_unique<LightGBMPredictor>(context);
}

}  // namespace inferloop::detail
