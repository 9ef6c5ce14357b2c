// numpy input for the bindings: see arrays.hpp for the rules.
#include "arrays.hpp"

#include <string>

namespace inferloop::python {
namespace {

using FloatArray = nb::ndarray<const float, nb::c_contig, nb::device::cpu>;

std::string dtype_text(nb::handle array) {
  return text_of(array.attr("dtype"));
}

// numpy's kind letter: 'f' float, 'i' signed, 'u' unsigned, 'b' bool, ...
char dtype_kind(nb::handle array) {
  const std::string kind = nb::cast<std::string>(array.attr("dtype").attr("kind"));
  return kind.empty() ? '?' : kind.front();
}

// The slow path: anything that is not already a float32 C-contiguous array.
FloatArray converted_features(nb::handle object, std::string_view what) {
  nb::module_ numpy = nb::module_::import_("numpy");
  // Lists, DataFrames and arrays of other dtypes; numpy raises ValueError for
  // ragged lists itself.
  nb::object array = numpy.attr("asarray")(object);
  const char kind = dtype_kind(array);
  if (kind != 'f' && kind != 'i' && kind != 'u') {
    throw nb::type_error((std::string(what) + ": expected real numbers (float32, or an array "
                          "numpy converts to float32 such as float64 or int64), found dtype " +
                          dtype_text(array) + "; convert it with numpy.asarray(x, dtype=numpy.float32)")
                             .c_str());
  }
  // Round to nearest: the conversion xgboost itself applies to float64 input.
  nb::object contiguous =
      numpy.attr("ascontiguousarray")(array, nb::arg("dtype") = numpy.attr("float32"));
  FloatArray result;
  if (!nb::try_cast(contiguous, result, /*convert=*/false)) {
    throw nb::type_error((std::string(what) + ": cannot read a float32 array from dtype " +
                          dtype_text(array)).c_str());
  }
  return result;
}

}  // namespace

FeatureMatrix feature_matrix(nb::handle object, std::string_view what) {
  FeatureMatrix matrix;
  if (!nb::try_cast(object, matrix.array, /*convert=*/false)) {
    matrix.array = converted_features(object, what);
    matrix.converted = true;
  }
  const FloatArray& array = matrix.array;
  if (array.ndim() == 1) {
    matrix.rows = 1;
    matrix.cols = array.shape(0);
  } else if (array.ndim() == 2) {
    matrix.rows = array.shape(0);
    matrix.cols = array.shape(1);
  } else {
    throw nb::value_error((std::string(what) + ": expected one row (a 1-D array) or rows x "
                           "features (a 2-D array), found an array with " +
                           std::to_string(array.ndim()) + " dimensions").c_str());
  }
  return matrix;
}

TimestampVector timestamp_vector(nb::handle object, std::string_view what) {
  TimestampVector timestamps;
  if (nb::try_cast(object, timestamps.array, /*convert=*/false)) return timestamps;
  nb::module_ numpy = nb::module_::import_("numpy");
  nb::object array = numpy.attr("asarray")(object);
  const char kind = dtype_kind(array);
  if (kind != 'i' && kind != 'u') {
    throw nb::type_error((std::string(what) + ": expected integer nanoseconds (int64) or "
                          "datetime64, found dtype " + dtype_text(array)).c_str());
  }
  if (kind == 'u' && nb::cast<std::size_t>(array.attr("size")) > 0 &&
      nb::cast<bool>(array.attr("max")() > numpy.attr("iinfo")(numpy.attr("int64")).attr("max"))) {
    throw nb::value_error((std::string(what) + ": a timestamp does not fit in int64 nanoseconds")
                              .c_str());
  }
  nb::object contiguous =
      numpy.attr("ascontiguousarray")(array, nb::arg("dtype") = numpy.attr("int64"));
  if (!nb::try_cast(contiguous, timestamps.array, /*convert=*/false)) {
    throw nb::value_error((std::string(what) + ": expected a 1-D array, found shape " +
                           text_of(array.attr("shape"))).c_str());
  }
  return timestamps;
}

}  // namespace inferloop::python
