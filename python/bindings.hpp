// The extension module inferloop._inferloop, one concept per file:
//   errors.cpp     inferloop.Error (RuntimeError) and how C++ errors map to Python
//   arrays.cpp     numpy input: float32 feature matrices, int64 timestamps
//   clock.cpp      ManualClock
//   config.cpp     InferenceConfig, and a config from a dict, a path or an object
//   results.cpp    Result (a Prediction), LoopStats, LoopError, ModelInfo, ...
//   callbacks.cpp  on_result / on_error: Python callables on the loop's threads
//   loop.cpp       InferenceLoop
//   predict.cpp    predict(): batch scoring
//   backtest.cpp   backtest(): a whole replay in one call (inferloop::replay)
// The pure-Python part (python/inferloop/) wraps these and is what users import;
// docs/python.md describes the package.
//
// Type casters: every file includes this header, which includes every
// nanobind STL caster the module uses. A file that called nb::cast<std::string>
// without <nanobind/stl/string.h> would instantiate a different, failing
// cast for the same type (an ODR violation the linker resolves at random).
//
// GIL: every binding that waits, loads or computes releases the GIL for that
// part (nb::gil_scoped_release) and touches no Python object meanwhile; code
// on the loop's own threads takes the GIL only to call a Python callback.
#pragma once

#include <string>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

namespace inferloop::python {

namespace nb = nanobind;

// Python's str(value) as UTF-8. NOTE: nb::str(obj.attr("x")) would not call
// str(): an attribute accessor converts to nb::str directly (a checked cast
// that fails for non-strings), so always pass a handle.
inline std::string text_of(nb::handle value) { return nb::cast<std::string>(nb::str(value)); }

void bind_errors(nb::module_& module);
void bind_clock(nb::module_& module);
void bind_config(nb::module_& module);
void bind_results(nb::module_& module);
void bind_loop(nb::module_& module);
void bind_predict(nb::module_& module);
void bind_backtest(nb::module_& module);

}  // namespace inferloop::python
