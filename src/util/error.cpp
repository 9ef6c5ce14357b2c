// inferloop::Error: see include/inferloop/error.hpp.
#include "inferloop/error.hpp"

#include "util/text.hpp"

namespace inferloop {

Error::Error(const std::string& message) : std::runtime_error(detail::scrub_secrets(message)) {}
Error::Error(const char* message) : Error(std::string(message != nullptr ? message : "")) {}

}  // namespace inferloop
