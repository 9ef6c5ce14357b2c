// parse_device (see device.hpp).
#include "util/device.hpp"

#include <string>

#include "inferloop/error.hpp"
#include "util/checked.hpp"
#include "util/text.hpp"

namespace inferloop::detail {

DeviceSpec parse_device(std::string_view text) {
  if (text == "cpu") return {};
  if (text == "cuda") return {true, 0};
  constexpr std::string_view kCudaPrefix = "cuda:";
  if (text.starts_with(kCudaPrefix)) {
    const std::string_view digits = text.substr(kCudaPrefix.size());
    const auto ordinal = to_integer(digits);
    // Digits only: to_integer also takes a sign.
    if (ordinal && digits.find_first_not_of("0123456789") == std::string_view::npos &&
        *ordinal <= kMaxCudaOrdinal) {
      return {true, static_cast<int>(*ordinal)};
    }
  }
  throw Error("device: expected cpu, cuda or cuda:N (N from 0 to " +
              std::to_string(kMaxCudaOrdinal) + "), found " + quote(text));
}

}  // namespace inferloop::detail
