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
  std::string text = text_of(error.type().attr("__name__"));
  const std::string message = text_of(error.value());
  if (!message.empty()) text += ": " + message;
  return text;
}

// The callbacks object whose Python callable this thread is running, if any.
thread_local const PythonCallbacks* running_callbacks = nullptr;

// Marks this thread as running `callbacks` for the scope (nesting restores).
class RunningScope {
 public:
  explicit RunningScope(const PythonCallbacks* callbacks) noexcept : outer_(running_callbacks) {
    running_callbacks = callbacks;
  }
  ~RunningScope() { running_callbacks = outer_; }
  RunningScope(const RunningScope&) = delete;
  RunningScope& operator=(const RunningScope&) = delete;

 private:
  const PythonCallbacks* outer_;
};

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
      // A strong reference for the call: the garbage collector may clear()
      // the member meanwhile (the callable may drop the last reference to
      // its own loop).
      const nb::object callable = self->on_result_;
      if (!callable.is_valid() || callable.is_none()) return;  // clear()ed
      RunningScope running(self.get());
      try {
        callable(std::move(result));
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
    const nb::object callable = self->on_error_;  // see result_callback()
    if (!callable.is_valid() || callable.is_none()) return;  // clear()ed
    RunningScope running(self.get());
    try {
      callable(loop_error);
    } catch (nb::python_error& error) {
      error.discard_as_unraisable("inferloop: in the on_error callback");
    }
  };
}

bool PythonCallbacks::running_here() const noexcept { return running_callbacks == this; }

int PythonCallbacks::visit(visitproc visit, void* arg) const {  // names Py_VISIT expects
  Py_VISIT(on_result_.ptr());
  Py_VISIT(on_error_.ptr());
  return 0;
}

void PythonCallbacks::clear() noexcept {
  on_result_.reset();
  on_error_.reset();
}

}  // namespace inferloop::python
