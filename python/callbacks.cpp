// on_result / on_error on the loop's threads: see callbacks.hpp.
#include "callbacks.hpp"

#include <string>
#include <utility>

#include "inferloop/error.hpp"
#include "results.hpp"

namespace inferloop::python {
namespace {

namespace nb = nanobind;

// "ValueError: bad value": the exception's type and message, without the
// traceback (that goes to sys.unraisablehook).
std::string summary_of(const nb::python_error& error) {
  std::string text = nb::cast<std::string>(nb::str(error.type().attr("__name__")));
  const std::string message = nb::cast<std::string>(nb::str(error.value()));
  if (!message.empty()) text += ": " + message;
  return text;
}

}  // namespace

PythonCallbacks::PythonCallbacks(nb::object on_result, nb::object on_error)
    : on_result_(std::move(on_result)), on_error_(std::move(on_error)) {
  for (const auto& [name, callable] : {std::pair{"on_result", &on_result_},
                                       std::pair{"on_error", &on_error_}}) {
    if (callable->is_valid() && !callable->is_none() && !PyCallable_Check(callable->ptr())) {
      throw nb::type_error((std::string(name) + ": expected a callable or None, found " +
                            nb::cast<std::string>(nb::repr(callable->type()))).c_str());
    }
  }
}

ResultCallback PythonCallbacks::result_callback() {
  if (!on_result_.is_valid() || on_result_.is_none()) return {};
  return [self = shared_from_this()](const Prediction& prediction) {
    Result result = Result::from(prediction);  // before the GIL: plain C++
    std::string failure;
    {
      nb::gil_scoped_acquire gil;
      try {
        self->on_result_(std::move(result));
      } catch (nb::python_error& error) {
        failure = "on_result raised " + summary_of(error);
        error.discard_as_unraisable("inferloop: in the on_result callback");
      }
    }
    // Thrown without the GIL: the loop reports it (on_error, last_error()).
    if (!failure.empty()) throw Error(failure);
  };
}

ErrorHandler PythonCallbacks::error_handler() {
  if (!on_error_.is_valid() || on_error_.is_none()) return {};
  return [self = shared_from_this()](const LoopError& loop_error) {
    nb::gil_scoped_acquire gil;
    try {
      self->on_error_(loop_error);
    } catch (nb::python_error& error) {
      error.discard_as_unraisable("inferloop: in the on_error callback");
    }
  };
}

}  // namespace inferloop::python
