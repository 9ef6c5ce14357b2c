// libFuzzer target for model URI parsing: parse_model_uri() and the local
// URI helpers it shares with resolve_model() (the scheme, file:// paths and
// their percent-decoding). Any bytes must give a ModelUri or an
// inferloop::Error, never a crash or a hang; a URI that parses must hold no
// NUL (a path with one opens a shorter path than it shows) and, for the
// artifact-proxy form, no "." or ".." segment after decoding. Nothing here
// touches the network or the file system. Build and run: see
// fuzz/CMakeLists.txt.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "inferloop/error.hpp"
#include "inferloop/mlflow.hpp"
#include "mlflow/detail.hpp"

namespace {

bool has_dot_segment(std::string_view path) {
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t slash = path.find('/', start);
    const std::string_view segment =
        path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (segment == "." || segment == "..") return true;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const inferloop::ModelUri uri = inferloop::parse_model_uri(text);
    (void)uri.moving();
    (void)uri.needs_tracking_server();
    if (uri.local_path.native().find('\0') != std::string::npos) __builtin_trap();
    if (uri.path.find('\0') != std::string::npos) __builtin_trap();
    if (uri.kind == inferloop::ModelUri::Kind::kHttp && has_dot_segment(uri.path)) __builtin_trap();
  } catch (const inferloop::Error&) {
    // The expected outcome for most inputs.
  }
  (void)inferloop::detail::model_uri_scheme(text);
  try {
    const auto path = inferloop::detail::file_uri_to_path("file:" + text);
    if (path.native().find('\0') != std::string::npos) __builtin_trap();
  } catch (const inferloop::Error&) {
  }
  return 0;
}
