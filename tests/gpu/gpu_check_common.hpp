// What the GPU check programs (gpu_agreement.cpp, gpu_bench.cpp) share: raw
// float32 files, bit comparison, a steady clock, and reading a model file
// through the same admission gate and reader as ForestPredictor.
//
// These programs run on a GPU machine through scripts/gpu-check, built by
// the forest-only build (CMakeLists.txt, INFERLOOP_FOREST_ONLY): no
// GoogleTest there, so each is a plain program that writes a JSON report
// and exits non-zero when a result is wrong.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "forest/forest_model.hpp"
#include "model/admission.hpp"

namespace inferloop::gpu_check {

inline std::vector<float> read_f32(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + file.string());
  const std::vector<char> bytes{std::istreambuf_iterator<char>(in),
                                std::istreambuf_iterator<char>()};
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

inline std::uint32_t bits(float value) {
  std::uint32_t word;
  std::memcpy(&word, &value, sizeof word);
  return word;
}

// Equal bits, except that any NaN equals any NaN.
inline bool same(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || bits(a) == bits(b);
}

inline std::string describe_difference(std::size_t index, std::size_t per_row, float got,
                                       float want) {
  char text[200];
  std::snprintf(text, sizeof text, "row %zu output %zu: got %.9g (0x%08x), want %.9g (0x%08x)",
                index / per_row, index % per_row, got, bits(got), want, bits(want));
  return text;
}

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The reader's forest of a model file, through the admission gate.
inline std::shared_ptr<const detail::Forest> read_forest_file(const std::filesystem::path& file) {
  return detail::build_forest(*detail::admit_model_file(file));
}

}  // namespace inferloop::gpu_check
