// ListenAddress: the "HOST:PORT" a server of inferloop listens on (the
// config's metrics_listen, `inferloop run --metrics`), read one way wherever
// it comes from.
//
// HOST is an IPv4 address literal ("127.0.0.1", "0.0.0.0" for every
// interface) or "localhost"; PORT is 0..65535, where 0 asks the system for
// any free port. Names other than localhost are refused rather than looked
// up: a listen address that depends on DNS at start-up is a surprise, and
// the HTTP server underneath (civetweb) takes address literals. IPv6 is
// refused for the same reason: Debian's civetweb is built without it.
//
// Pure functions and a plain value; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace inferloop::detail {

struct ListenAddress {
  std::string host;        // as written: an IPv4 literal or "localhost"
  std::uint16_t port = 0;  // 0: any free port

  // "127.0.0.1:9464"
  [[nodiscard]] std::string text() const { return host + ":" + std::to_string(port); }
};

// What every message about a listen address expects.
inline constexpr std::string_view kListenAddressExpected =
    "HOST:PORT with HOST an IPv4 address or localhost and PORT 0..65535 (0 = any free port), "
    "e.g. \"127.0.0.1:9464\"";

// nullopt when `text` is not a listen address as described above.
[[nodiscard]] std::optional<ListenAddress> to_listen_address(std::string_view text);

// Like to_listen_address, but throws inferloop::Error
// "<what>: expected HOST:PORT ..., found '<text>'".
[[nodiscard]] ListenAddress parse_listen_address(std::string_view text, std::string_view what);

}  // namespace inferloop::detail
