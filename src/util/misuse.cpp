// See misuse.hpp.
#include "util/misuse.hpp"

#include <cstdio>
#include <cstdlib>

namespace inferloop::detail {

void misuse_abort(std::string_view message) noexcept {
  std::fprintf(stderr, "inferloop: API misuse: %.*s\n", static_cast<int>(message.size()),
               message.data());
  std::fflush(stderr);
  std::abort();
}

}  // namespace inferloop::detail
