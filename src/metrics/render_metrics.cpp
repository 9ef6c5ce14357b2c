// render_metrics() and metrics_url(): include/inferloop/metrics.hpp.
#include "inferloop/metrics.hpp"

#include "loop/loop_access.hpp"
#include "metrics/metric_families.hpp"

namespace inferloop {

std::string render_metrics(const InferenceLoop& loop) {
  return detail::metrics_text(detail::LoopAccess::observe(loop));
}

std::string metrics_url(const InferenceLoop& loop) {
  return detail::LoopAccess::metrics_url(loop);
}

}  // namespace inferloop
