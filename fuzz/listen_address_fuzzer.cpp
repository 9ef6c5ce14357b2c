// libFuzzer target for the listen-address reader (src/util/listen_address.hpp),
// which reads metrics_listen and `inferloop run --metrics`: any bytes must
// give an address or nothing (parse_listen_address: an inferloop::Error with
// a bounded message); never a crash or a bad read. An address that reads is
// checked against the reader's promises: its host is localhost or an IPv4
// literal with no NUL, and its text() reads back as the same address. Build
// and run: see fuzz/CMakeLists.txt.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "inferloop/error.hpp"
#include "util/listen_address.hpp"
#include "util/text.hpp"

namespace {

void require(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::optional<inferloop::detail::ListenAddress> address = inferloop::detail::to_listen_address(text);
  if (address) {
    require(address->host.find('\0') == std::string::npos);
    in_addr ipv4{};
    require(address->host == "localhost" || inet_pton(AF_INET, address->host.c_str(), &ipv4) == 1);
    const auto again = inferloop::detail::to_listen_address(address->text());
    require(again && again->host == address->host && again->port == address->port);
  }
  try {
    const inferloop::detail::ListenAddress parsed = inferloop::detail::parse_listen_address(text, "fuzz");
    require(address && parsed.text() == address->text());
  } catch (const inferloop::Error& error) {
    require(!address);
    // The input is quoted, bounded (detail::quote: at most kQuotedMaxChars
    // characters, each escaped to at most 4): a message never grows with it.
    const std::size_t longest = 200 + inferloop::detail::kListenAddressExpected.size() +
                                4 * inferloop::detail::kQuotedMaxChars;
    require(std::string_view(error.what()).size() <= longest);
  }
  return 0;
}
