// inferloop.Error: the Python face of inferloop::Error.
//
// Every inferloop::Error a binding lets through becomes inferloop.Error, a
// subclass of RuntimeError, with the C++ message unchanged (already scrubbed
// of secrets by inferloop::Error itself). Bad arguments that Python code can
// check before anything runs (a wrong dtype, shape or width) are raised by
// the bindings as TypeError / ValueError instead (arrays.cpp). Anything else
// C++ throws reaches Python through nanobind's own translation (std::bad_alloc
// -> MemoryError, other std::exception -> RuntimeError), never as a crash.

#include "bindings.hpp"
#include "inferloop/error.hpp"

namespace inferloop::python {

void bind_errors(nb::module_& module) {
  nb::exception<inferloop::Error> error(module, "Error", PyExc_RuntimeError);
  error.attr("__doc__") =
      "An error from inferloop's core: a bad config, a model that cannot be resolved or "
      "loaded, an MLflow server that refuses, a prediction that failed. The message says "
      "what was wrong, where (file, line:column, key, URI) and what to do.";
}

}  // namespace inferloop::python
