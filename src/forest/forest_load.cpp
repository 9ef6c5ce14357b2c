// ForestModel::load: a model file from disk. Kept apart from the reader and
// evaluator so that the fuzz target can build those without the rest of
// inferloop (detect_model_format lives in model_source.cpp).
#include <fstream>
#include <iterator>
#include <vector>

#include "inferloop/error.hpp"
#include "inferloop/forest.hpp"
#include "inferloop/model_source.hpp"

namespace inferloop {

ForestModel ForestModel::load(const std::filesystem::path& model_file) {
  const ModelFormat format = detect_model_format(model_file);
  std::ifstream in(model_file, std::ios::binary);
  if (!in) {
    throw Error("cannot open model file '" + model_file.string() +
                "'; check that it exists and is readable");
  }
  const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in),
                                        std::istreambuf_iterator<char>()};
  return parse(bytes, format, model_file.string());
}

}  // namespace inferloop
