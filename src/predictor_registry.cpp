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
#include "xgboost_predictor.hpp"

namespace inferloop {
namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

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
    return created;
  }();
  return *registry;
}

void PredictorRegistry::add(std::string name, PredictorFactory factory) {
  if (name.empty()) throw Error("PredictorRegistry::add: the predictor name is empty");
  if (!factory) throw Error("PredictorRegistry::add(\"" + name + "\"): the factory is empty");
  std::lock_guard lock(mutex_);
  if (factories_.contains(name)) {
    throw Error("predictor \"" + name + "\" is already registered; register each name once " +
                "(or pick another name)");
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
    std::string known;
    std::string closest;
    std::size_t closest_distance = std::numeric_limits<std::size_t>::max();
    for (const std::string& candidate : names()) {
      known += (known.empty() ? "" : ", ") + candidate;
      const std::size_t distance = edit_distance(name, candidate);
      if (distance < closest_distance) {
        closest_distance = distance;
        closest = candidate;
      }
    }
    std::string message = "unknown predictor_class_name \"" + name + "\"; known predictors: " +
                          (known.empty() ? std::string("none") : known);
    if (!closest.empty() && closest_distance <= std::max<std::size_t>(2, closest.size() / 4)) {
      message += "; did you mean \"" + closest + "\"?";
    }
    throw Error(message);
  }
  std::unique_ptr<Predictor> predictor = factory(context);
  if (!predictor) {
    throw Error("the factory of predictor \"" + name + "\" returned no predictor");
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
