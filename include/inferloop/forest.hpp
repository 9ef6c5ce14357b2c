// ForestModel: an XGBoost tree ensemble read from its JSON or UBJSON file and
// evaluated natively, with the same float32 arithmetic as XGBoost's CPU
// predictor, so every output equals XGBoost's bit for bit.
//
// It is what the "ForestPredictor" predictor runs, and it is public so that a
// backtest can score millions of rows without an InferenceLoop:
//
//   auto forest = inferloop::ForestModel::load("model.ubj");
//   std::vector<float> out(rows * forest.num_outputs(OutputKind::kTransformed));
//   forest.predict(features, rows, out, OutputKind::kTransformed);
//
// Reads models saved by every XGBoost from 1.0 to 3.2: gbtree and dart,
// scalar and vector base_score, output groups (multi-class), categorical
// splits. Every file is first checked by inferloop's model admission gate
// (the same one every predictor's model passes; docs/forest.md). Refuses
// (throws inferloop::Error) what it cannot reproduce exactly: gblinear,
// survival:aft, unknown objectives; and, like every predictor, multi-target
// vector leaves and the legacy binary format (re-save it with xgboost:
// booster.save_model("model.ubj")).
//
// Evaluation: the trees are laid out in padded, constant-stride blocks and
// walked by kernels chosen when the model is made for the CPU it runs on
// (AVX-512, AVX2 or baseline x86-64; docs/forest.md). One row walks many
// trees in lockstep; a batch bins its rows and tests each node for 64 rows
// at once. Every path gives the same bits as XGBoost.
//
// Lifecycle and thread safety: load() builds an immutable model; copies share
// it. predict() is const, never allocates (it uses up to 64 KiB of the
// caller's stack), and may be called from any number of threads at once.
// ForestThreadPool spreads one large batch over several threads.
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
#include "inferloop/model_source.hpp"

namespace inferloop {

namespace detail {
struct ForestEngine;   // src/forest/forest_model.hpp: the reader's trees and their layout
struct ForestKernels;  // src/forest/forest_kernels.hpp: the inner loops for one instruction set
class ForestModelAccess;  // src/forest/forest_model.hpp: a ForestModel from a validated model
}

// Threads for ForestModel::predict(..., pool): a pool of `threads` - 1
// workers (Boost.Asio's thread_pool), the calling thread being the last.
// Lifecycle: the destructor waits for the workers' current work and joins
// them. Any number of threads may call predict with one pool at once; their
// parts queue on the same workers.
class ForestThreadPool {
 public:
  // REQUIRES: threads >= 1 (1: no worker; predict runs on the caller).
  explicit ForestThreadPool(std::size_t threads);
  ~ForestThreadPool();
  ForestThreadPool(const ForestThreadPool&) = delete;
  ForestThreadPool& operator=(const ForestThreadPool&) = delete;

  [[nodiscard]] std::size_t threads() const noexcept { return threads_; }

 private:
  friend class ForestModel;
  struct Workers;
  std::size_t threads_;
  std::unique_ptr<Workers> workers_;  // null when threads_ == 1
};

class ForestModel {
 public:
  // Reads a .json or .ubj file (the format is sniffed as XGBoost does).
  // Throws inferloop::Error naming the file, the JSON key and what to do.
  // NOTE: a model resolved by resolve_model() is already read and checked;
  //       ForestPredictor builds from that instead of reading again.
  [[nodiscard]] static ForestModel load(const std::filesystem::path& model_file);

  // Parses a model already in memory. `source_name` is used in messages.
  // REQUIRES: format is kJson or kUbjson (kLegacyBinary throws).
  [[nodiscard]] static ForestModel parse(std::span<const std::uint8_t> bytes, ModelFormat format,
                                         std::string_view source_name);

  // Features per row: the model's num_feature.
  [[nodiscard]] std::size_t num_features() const noexcept;
  // Values per row: the number of output groups (num_class for softprob, 1
  // for regression and binary); 1 for multi:softmax's transformed output,
  // which is the winning class index.
  [[nodiscard]] std::size_t num_outputs(OutputKind kind) const noexcept;
  [[nodiscard]] std::size_t num_trees() const noexcept;
  // The objective's name as XGBoost wrote it, e.g. "binary:logistic".
  [[nodiscard]] const std::string& objective() const noexcept;
  // The XGBoost version that saved the model, {major, minor, patch}.
  [[nodiscard]] const std::vector<int>& saved_by_version() const noexcept;
  // Empty when the model was trained without feature names.
  [[nodiscard]] const std::vector<std::string>& feature_names() const noexcept;

  // Predicts `rows` rows of `features` (row-major, rows x num_features(); NaN
  // is missing) into `out` (rows x num_outputs(kind)).
  // REQUIRES: features.size() == rows * num_features(),
  //           out.size() == rows * num_outputs(kind).
  // NOTE: large batches are evaluated in row blocks, tree by tree, which keeps
  //       the trees in cache; every output is still summed in tree order.
  void predict(std::span<const float> features, std::size_t rows, std::span<float> out,
               OutputKind kind) const noexcept;

  // The same, with the rows split into up to pool.threads() parts of at
  // least 1,024 rows, one part per thread; the bits are the same as above.
  // REQUIRES: as above.
  // NOTE: allocates (the parts' tasks); a part that cannot be handed over
  //       runs on the calling thread. For fewer than 2,048 rows it is the
  //       call above.
  void predict(std::span<const float> features, std::size_t rows, std::span<float> out,
               OutputKind kind, ForestThreadPool& pool) const;

 private:
  friend class detail::ForestModelAccess;
  ForestModel(std::shared_ptr<const detail::ForestEngine> engine,
              const detail::ForestKernels& kernels);
  std::shared_ptr<const detail::ForestEngine> engine_;
  const detail::ForestKernels* kernels_;  // a constant table; chosen for this CPU
};

}  // namespace inferloop
