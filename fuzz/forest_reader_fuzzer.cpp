// libFuzzer target for ForestModel's reader: any bytes, read as JSON or
// UBJSON (sniffed like XGBoost: '{' then '"' or blank is JSON), must give a
// model or an inferloop::Error; never a crash, a bad read or a hang. A model
// that loads is also evaluated on a row of NaNs and a row of mixed values, so
// the checks that make the walk safe (child and feature indices, categories)
// are fuzzed too. Build and run: see fuzz/CMakeLists.txt.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "inferloop/error.hpp"
#include "inferloop/forest.hpp"

namespace {

inferloop::ModelFormat sniff(std::span<const std::uint8_t> bytes) {
  const bool json = bytes.size() >= 2 && bytes[0] == '{' &&
                    (bytes[1] == '"' || bytes[1] == ' ' || bytes[1] == '\n' ||
                     bytes[1] == '\t' || bytes[1] == '\r' || bytes[1] == '}');
  return json ? inferloop::ModelFormat::kJson : inferloop::ModelFormat::kUbjson;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  try {
    const auto model = inferloop::ForestModel::parse(bytes, sniff(bytes), "fuzz-input");
    // Wide models are valid, but a row of millions of features is not worth
    // allocating on every input.
    if (model.num_features() > (1u << 16)) return 0;
    const std::size_t rows = 2;
    std::vector<float> features(rows * model.num_features(),
                                std::numeric_limits<float>::quiet_NaN());
    for (std::size_t i = model.num_features(); i < features.size(); ++i) {
      features[i] = static_cast<float>(static_cast<int>(i % 7) - 2) * 0.75F;
    }
    for (const auto kind : {inferloop::OutputKind::kMargin, inferloop::OutputKind::kTransformed}) {
      std::vector<float> out(rows * model.num_outputs(kind));
      model.predict(features, rows, out, kind);
    }
  } catch (const inferloop::Error&) {
    // The expected outcome for almost every mutated input.
  }
  return 0;
}
