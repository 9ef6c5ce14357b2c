// ListenAddress: see listen_address.hpp.
#include "util/listen_address.hpp"

#include <arpa/inet.h>

#include <cstdint>
#include <string>

#include "util/checked.hpp"

namespace inferloop::detail {

std::optional<ListenAddress> to_listen_address(std::string_view text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string host(text.substr(0, colon));
  const std::string_view port_text = text.substr(colon + 1);
  // to_integer takes a sign; a port is digits only.
  if (port_text.empty() || port_text.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  const std::optional<std::int64_t> port = to_integer(port_text);
  if (!port || *port > 65535) return std::nullopt;
  // inet_pton reads up to a NUL; "127.0.0.1\0junk" is not an address.
  if (host.find('\0') != std::string::npos) return std::nullopt;
  in_addr ipv4{};
  if (host != "localhost" && inet_pton(AF_INET, host.c_str(), &ipv4) != 1) return std::nullopt;
  return ListenAddress{host, static_cast<std::uint16_t>(*port)};
}

ListenAddress parse_listen_address(std::string_view text, std::string_view what) {
  if (std::optional<ListenAddress> address = to_listen_address(text)) return *address;
  throw_out_of_range(what, kListenAddressExpected, text);
}

}  // namespace inferloop::detail
