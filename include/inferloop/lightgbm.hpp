// LightGBMModel: a LightGBM model read from its text file (what
// Booster.save_model and model_to_string write, LightGBM 3.x and 4.x) and
// evaluated natively with LightGBM's own arithmetic, so every output equals
// LightGBM's predict() bit for bit, in double.
//
// It is what "ForestPredictor" runs for a LightGBM model, and it is public
// so that a backtest can score millions of rows without an InferenceLoop,
// and can have the double result the Predictor interface cannot carry:
//
//   auto model = inferloop::LightGBMModel::load("model.txt");
//   std::vector<double> out(rows * model.num_outputs());
//   model.predict(features, rows, out, inferloop::OutputKind::kTransformed);
//
// The arithmetic (docs/lightgbm.md): each float feature is widened
// to double, |x| <= 1e-35f reads as 0; split thresholds are doubles and a
// value goes left iff value <= threshold, with LightGBM's missing-value rules
// (missing_type None, Zero, NaN and default_left) and categorical bitset
// splits; leaves are summed in double in tree order, per output; the
// transform is the objective's (binary's sigmoid with its `sigmoid`,
// softmax, multiclassova, the regression family with reg_sqrt, exp for
// poisson/gamma/tweedie, cross_entropy(_lambda), raw for the ranking
// objectives), with a random forest's average. The float32 output is that
// double rounded once.
//
// Every file first passes inferloop's model admission gate for LightGBM
// (src/model/lightgbm_admission.hpp; docs/lightgbm.md). Refuses (throws
// inferloop::Error) what it cannot reproduce exactly: linear trees, and
// models with more than kMaxOutputs outputs.
//
// Lifecycle and thread safety: load() builds an immutable model; copies share
// it. predict() is const, never allocates (the float overload uses up to
// 32 KiB of the caller's stack), and may be called from any number of
// threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "inferloop/config.hpp"

namespace inferloop {

namespace detail {
struct LightGBMForest;
class LightGBMModelAccess;  // src/forest/lightgbm_forest.hpp
}

class LightGBMModel {
 public:
  // Outputs per row this evaluator handles (num_class); a model with more is
  // refused (the float overload sums on the stack).
  static constexpr std::size_t kMaxOutputs = 4096;

  // Reads a LightGBM text model. Throws inferloop::Error naming the file, the
  // line and what to do.
  [[nodiscard]] static LightGBMModel load(const std::filesystem::path& model_file);
  // Parses a model already in memory. `source_name` is used in messages.
  [[nodiscard]] static LightGBMModel parse(std::span<const std::uint8_t> bytes,
                                           std::string_view source_name);

  // Features per row: the model's max_feature_idx + 1.
  [[nodiscard]] std::size_t num_features() const noexcept;
  // Values per row, raw or transformed: num_class (1 unless multiclass).
  [[nodiscard]] std::size_t num_outputs() const noexcept;
  [[nodiscard]] std::size_t num_trees() const noexcept;
  // The objective as the file writes it ("binary sigmoid:1", "multiclass
  // num_class:3"); empty for a model trained with a custom objective.
  [[nodiscard]] const std::string& objective() const noexcept;
  [[nodiscard]] const std::vector<std::string>& feature_names() const noexcept;

  // Predicts `rows` rows of `features` (row-major, rows x num_features(); NaN
  // is missing) into `out` (rows x num_outputs()): kMargin is LightGBM's
  // predict(raw_score=True), kTransformed its predict().
  // REQUIRES: features.size() == rows * num_features(),
  //           out.size() == rows * num_outputs().
  void predict(std::span<const float> features, std::size_t rows, std::span<double> out,
               OutputKind kind) const noexcept;
  // The same, each double rounded once to float.
  void predict(std::span<const float> features, std::size_t rows, std::span<float> out,
               OutputKind kind) const noexcept;

 private:
  friend class detail::LightGBMModelAccess;
  explicit LightGBMModel(std::shared_ptr<const detail::LightGBMForest> forest);
  std::shared_ptr<const detail::LightGBMForest> forest_;
};

}  // namespace inferloop
