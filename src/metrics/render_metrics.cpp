// render_metrics() and metrics_url(): include/inferloop/metrics.hpp.
#include <sstream>

#include <prometheus/text_serializer.h>

#include "inferloop/metrics.hpp"
#include "loop/loop_observation.hpp"
#include "metrics/metric_families.hpp"

namespace inferloop {

std::string render_metrics(const InferenceLoop& loop) {
  std::ostringstream text;
  prometheus::TextSerializer().Serialize(
      text, detail::metric_families(detail::LoopAccess::observe(loop)));
  return text.str();
}

std::string metrics_url(const InferenceLoop& loop) {
  return detail::LoopAccess::metrics_url(loop);
}

}  // namespace inferloop
