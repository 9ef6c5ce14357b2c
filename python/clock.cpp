// ManualClock for Python: the simulated clock a Python backtest loop sets from
// each event (the reference design's pattern; docs/python.md, "A backtest
// loop in Python"). Times are integer nanoseconds since any origin the
// backtester chooses. Thread-safe; set() never moves the clock backwards.
//
// The loop keeps the clock through a std::shared_ptr (nanobind's
// shared_ptr caster keeps the Python object alive with it), so a clock
// passed to InferenceLoop lives as long as the loop needs it.
#include <cstdint>
#include <string>

#include "bindings.hpp"
#include "inferloop/clock.hpp"

namespace inferloop::python {

void bind_clock(nb::module_& module) {
  nb::class_<ManualClock>(module, "ManualClock",
                          "A clock that moves only when told to: the simulated time of a "
                          "backtest. Pass it as InferenceLoop(..., clock=clock, latency=...) "
                          "and set it to each event's time before publishing that event.")
      .def(
          "__init__",
          [](ManualClock* self, std::int64_t start_ns) { new (self) ManualClock(Timestamp{start_ns}); },
          nb::arg("start_ns") = 0, "A clock reading `start_ns` nanoseconds.")
      .def("now", [](const ManualClock& clock) { return clock.now().count(); },
           "The current time, in nanoseconds.")
      .def("set", [](ManualClock& clock, std::int64_t time_ns) { clock.set(Timestamp{time_ns}); },
           nb::arg("time_ns"),
           "Moves the clock to `time_ns`. An earlier time is ignored: the clock never runs "
           "backwards for its readers.")
      .def("advance", [](ManualClock& clock, std::int64_t by_ns) { clock.advance(Timestamp{by_ns}); },
           nb::arg("by_ns"),
           "Moves the clock forward by `by_ns` (ignored when not positive; saturates at the "
           "largest time instead of wrapping).")
      .def("__repr__", [](const ManualClock& clock) {
        return "ManualClock(" + std::to_string(clock.now().count()) + ")";
      });
}

}  // namespace inferloop::python
