// numpy input for the bindings: feature matrices and timestamp vectors.
//
// Features are float32, row-major. The rule for everything else (documented
// in docs/python.md, "Arrays"):
//   - a C-contiguous float32 array is used in place: no copy;
//   - any other real or integer array (float64, float16, int64, a Fortran-
//     order or strided float32 view, a list, a DataFrame's values) is
//     converted once with numpy's astype(float32): round to nearest, which is
//     exactly what xgboost does with float64 input, so predictions stay
//     bit-identical to xgboost's on the same float64 array;
//   - bool, complex, object, string and datetime arrays raise TypeError;
//   - a 1-D array is one row; 2-D is rows x features; any other number of
//     dimensions raises ValueError.
// Timestamps are int64 nanoseconds (the Python layer turns datetime64 and
// pandas timestamps into those first; python/inferloop/_frames.py).
//
// Call with the GIL held. The returned objects keep the numpy data alive;
// their spans stay valid while they live, also with the GIL released.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "bindings.hpp"

namespace inferloop::python {

namespace nb = nanobind;

struct FeatureMatrix {
  // Holds a reference to the numpy array (the caller's, or the converted copy).
  nb::ndarray<const float, nb::c_contig, nb::device::cpu> array;
  std::size_t rows = 0;
  std::size_t cols = 0;
  bool converted = false;  // a copy was made (not float32 C-contiguous input)

  [[nodiscard]] std::span<const float> values() const noexcept {
    return {array.data(), rows * cols};
  }
};

// `what` names the argument in messages, e.g. "publish(features)".
[[nodiscard]] FeatureMatrix feature_matrix(nb::handle object, std::string_view what);

struct TimestampVector {
  nb::ndarray<const std::int64_t, nb::ndim<1>, nb::c_contig, nb::device::cpu> array;

  [[nodiscard]] std::span<const std::int64_t> values() const noexcept {
    return {array.data(), array.shape(0)};
  }
};

// An int64 1-D array (any integer array is converted); anything else raises
// TypeError, naming `what`.
[[nodiscard]] TimestampVector timestamp_vector(nb::handle object, std::string_view what);

}  // namespace inferloop::python
