// NB_MODULE: the entry point of inferloop._inferloop (see bindings.hpp for
// what each file binds). Users import the package `inferloop`, which
// re-exports these names next to its pure-Python helpers.

#include "bindings.hpp"
#include "inferloop/predictor.hpp"
#include "inferloop/version.hpp"

NB_MODULE(_inferloop, module) {
  namespace nb = nanobind;
  namespace py = inferloop::python;
  module.doc() =
      "inferloop's compiled core: the C++ InferenceLoop, batch scoring and backtests. "
      "Import the package `inferloop` instead of this module.";
  // Errors first: every later binding's default arguments and docstrings may
  // refer to the types registered before it.
  py::bind_errors(module);
  py::bind_clock(module);
  py::bind_config(module);
  py::bind_results(module);
  py::bind_loop(module);
  py::bind_predict(module);
  py::bind_backtest(module);
  module.attr("__version__") = inferloop::kVersion;
  module.def("linked_xgboost_version", &inferloop::linked_xgboost_version,
             "The version of the libxgboost this module is linked to, e.g. [1, 7, 4]: "
             "XGBoostPredictor loads models saved by this or an older xgboost only "
             "(ForestPredictor reads every version from 1.0 to 3.2).");
}
