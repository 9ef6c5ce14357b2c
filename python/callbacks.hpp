// on_result / on_error: Python callables that the loop calls on its own
// threads (live mode: replica threads; backtest mode: whichever thread
// publishes or reads).
//
// The GIL is taken only around the Python call, and only when a callable was
// given: a loop without callbacks never touches the GIL off the caller's
// thread.
//
// A callable that raises never takes the loop down:
//   - on_result: the traceback goes to sys.unraisablehook (printed to stderr
//     by default), and the loop reports "on_result raised TypeError: ..." as
//     a loop error (on_error, InferenceLoop.last_error()) and keeps serving;
//   - on_error: the traceback goes to sys.unraisablehook; there is nothing
//     else left to report it to.
//
// Lifetime: the Python objects are released only with the GIL held. The
// owner (PythonLoop) keeps a reference to this object and drops it after the
// loop, and with it every copy of the std::functions below, is gone. The
// owner also reports the callables to Python's cyclic garbage collector
// (visit(), clear()): a callback that refers to its own loop is a cycle.
//
// running_here(): whether this thread is inside one of these callbacks (a
// backtest loop delivers results on the thread that publishes or reads, and
// must not be published to from there).
#pragma once

#include <memory>

#include "bindings.hpp"

#include "inferloop/inference_loop.hpp"

namespace inferloop::python {

class PythonCallbacks : public std::enable_shared_from_this<PythonCallbacks> {
 public:
  // GIL held. None (or an empty handle) = no callback.
  PythonCallbacks(nanobind::object on_result, nanobind::object on_error);
  PythonCallbacks(const PythonCallbacks&) = delete;
  PythonCallbacks& operator=(const PythonCallbacks&) = delete;

  // Empty std::function when the matching callable is None, so that the loop
  // skips the callback entirely.
  [[nodiscard]] ResultCallback result_callback();
  [[nodiscard]] ErrorHandler error_handler();

  // True while this thread runs one of this object's Python callables.
  [[nodiscard]] bool running_here() const noexcept;

  // The garbage collector's tp_traverse and tp_clear (GIL held). After
  // clear() the callbacks do nothing.
  int visit(visitproc visitor, void* argument) const;
  void clear() noexcept;

 private:
  nanobind::object on_result_;  // written once, GIL held; read under the GIL
  nanobind::object on_error_;
};

}  // namespace inferloop::python
