#include "inferloop/clock.hpp"

namespace inferloop {

std::shared_ptr<Clock> system_clock() {
  static const std::shared_ptr<Clock> clock = std::make_shared<SystemClock>();
  return clock;
}

}  // namespace inferloop
