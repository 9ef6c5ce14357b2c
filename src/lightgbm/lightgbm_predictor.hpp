// LightGBMPredictor: a Predictor over LightGBM's own C API (lib_lightgbm.so
// from the PyPI wheel, loaded by lightgbm_c_api.hpp), as XGBoostPredictor is
// for XGBoost: the reference implementation a user can pick, and the one the
// agreement tests hold ForestPredictor's native LightGBM evaluator against.
//
// Lifecycle: constructed by the registry once per replica at start(); loads
// (or, with share_booster, looks up) a booster from the bytes the LightGBM
// admission gate validated (src/model/lightgbm_admission.hpp), never from the
// file again, checks its width against the config and the MLmodel signature,
// and prepares this replica's single-row FastConfig. predict() is then
// called from one thread at a time: one row goes through LightGBM's
// single-row fast path, more rows through LGBM_BoosterPredictForMat.
//
// Output: LightGBM predicts in double; each value is rounded once to float,
// as ForestPredictor does for LightGBM models, so the two agree bit for bit.
// OutputKind::kMargin is LightGBM's raw score, kTransformed its predict().
//
// Thread safety: LightGBM's prediction on one booster is safe from several
// threads (it takes a shared lock); each replica keeps its own FastConfig.
// predictor_threads sets LightGBM's num_threads for this replica's calls.
#pragma once

#include <memory>

#include "inferloop/predictor.hpp"

namespace inferloop::detail {

// Registered as "LightGBMPredictor". Throws inferloop::Error when LightGBM's
// C library cannot be loaded, the model is not a LightGBM model, or LightGBM
// cannot load it; a build without LightGBM's header has a factory that
// always throws, saying how to build it (lightgbm_predictor_unbuilt.cpp).
[[nodiscard]] std::unique_ptr<Predictor> make_lightgbm_predictor(const PredictorContext& context);

}  // namespace inferloop::detail
