// PredictorRegistry and Predictor's default warm_up().
//
// The global registry registers XGBoostPredictor inside global() itself, not
// from a static initialiser in another file: a static libinferloop.a would let
// the linker drop such an object file, and the name would silently vanish.
#include <algorithm>
#include <limits>
#include <string_view>

#include "inferloop/error.hpp"
#include "inferloop/predictor.hpp"
#include "inferloop/remote.hpp"
#include "forest/forest_predictor.hpp"
#include "lightgbm/lightgbm_predictor.hpp"
#include "util/did_you_mean.hpp"
#include "util/text.hpp"
#include "xgboost/xgboost_predictor.hpp"

namespace inferloop {
void Predictor::warm_up() {
  std::vector<float> features(num_features(), std::numeric_limits<float>::quiet_NaN());
  std::vector<float> scratch(num_outputs());
  predict(features, 1, scratch);
}

PredictorRegistry& PredictorRegistry::global() {
  static PredictorRegistry* const registry = [] {
    auto* created = new PredictorRegistry();  // never destroyed: usable during static teardown
    created->add("XGBoostPredictor", &detail::make_xgboost_predictor);
    created->add("KServeV2Predictor", remote_predictor_factory(RemoteProtocol::kKServeV2));
    created->add("MlflowScoringPredictor", remote_predictor_factory(RemoteProtocol::kMlflowScoring));
    created->add("RayServePredictor", remote_predictor_factory(RemoteProtocol::kRayServe));
    created->add("ForestPredictor", &detail::make_forest_predictor);
    created->add("LightGBMPredictor", &detail::make_lightgbm_predictor);
    return created;
  }();
  return *registry;
}

void PredictorRegistry::add(std::string name, PredictorFactory factory) {
  if (name.empty()) throw Error("PredictorRegistry::add: the predictor name is empty");
  if (!factory) throw Error("PredictorRegistry::add(" + detail::quote(name) + "): the factory is empty");
  std::lock_guard lock(mutex_);
  if (factories_.contains(name)) {
    throw Error("predictor " + detail::quote(name) + " is already registered; register each name "
                "once (or pick another name)");
  }
  factories_.emplace(std::move(name), std::move(factory));
}

std::unique_ptr<Predictor> PredictorRegistry::create(const std::string& name,
                                                     const PredictorContext& context) const {
  PredictorFactory factory;
  {
    std::lock_guard lock(mutex_);
    if (const auto found = factories_.find(name); found != factories_.end()) {
      factory = found->second;
    }
  }
  if (!factory) {
    const std::vector<std::string> known = names();
    std::string message = "unknown predictor_class_name " + detail::quote(name) +
                          "; known predictors: ";
    for (std::size_t i = 0; i < known.size(); ++i) message += (i == 0 ? "" : ", ") + known[i];
    if (known.empty()) message += "none";
    const std::vector<std::string_view> candidates(known.begin(), known.end());
    if (auto suggestion = detail::closest(name, candidates)) {
      message += "; did you mean " + detail::quote(*suggestion) + "?";
    }
    throw Error(message);
  }
  std::unique_ptr<Predictor> predictor = factory(context);
  if (!predictor) {
    throw Error("the factory of predictor " + detail::quote(name) + " returned no predictor");
  }
  return predictor;
}

bool PredictorRegistry::contains(const std::string& name) const {
  std::lock_guard lock(mutex_);
  return factories_.contains(name);
}

std::vector<std::string> PredictorRegistry::names() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> result;
  result.reserve(factories_.size());
  for (const auto& entry : factories_) result.push_back(entry.first);
  return result;  // std::map keeps them sorted
}

}  // namespace inferloop
