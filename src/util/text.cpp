// Text helpers: see text.hpp.
#include "util/text.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>

namespace inferloop::detail {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

void append_escaped(std::string& out, char c) {
  switch (c) {
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    case '\'': out += "\\'"; return;
    case '\\': out += "\\\\"; return;
    default: break;
  }
  const auto byte = static_cast<unsigned char>(c);
  if (byte < 0x20 || byte == 0x7f) {
    out += "\\x";
    out += kHexDigits[byte >> 4];
    out += kHexDigits[byte & 15];
    return;
  }
  out += c;
}

bool is_secret_parameter(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  constexpr std::array<std::string_view, 7> kSecretWords{
      "token", "password", "secret", "signature", "credential", "key", "sig"};
  return std::any_of(kSecretWords.begin(), kSecretWords.end(),
                     [&](std::string_view word) { return lower.find(word) != std::string::npos; });
}

// Where a URI that starts at `begin` ends inside free text: at whitespace or
// at a character that quotes or delimits it in a message.
std::size_t uri_end(std::string_view text, std::size_t begin) {
  std::size_t end = begin;
  while (end < text.size()) {
    const char c = text[end];
    if (std::isspace(static_cast<unsigned char>(c)) || c == '\'' || c == '"' || c == '`' ||
        c == '<' || c == '>' || c == ')' || c == ']' || c == '}' || c == ',' || c == ';') {
      break;
    }
    ++end;
  }
  return end;
}

// One URI (scheme:// already checked) with its userinfo and secret query
// values replaced.
std::string scrub_uri(std::string_view uri) {
  const std::size_t authority_begin = uri.find("://") + 3;
  std::size_t authority_end = uri.find_first_of("/?#", authority_begin);
  if (authority_end == std::string_view::npos) authority_end = uri.size();
  std::string out(uri.substr(0, authority_begin));
  const std::string_view authority = uri.substr(authority_begin, authority_end - authority_begin);
  const std::size_t at = authority.rfind('@');
  out += at == std::string_view::npos ? authority
                                      : "***@" + std::string(authority.substr(at + 1));
  const std::string_view rest = uri.substr(authority_end);
  const std::size_t query = rest.find('?');
  if (query == std::string_view::npos) {
    out += rest;
    return out;
  }
  out += rest.substr(0, query + 1);
  const std::size_t fragment = rest.find('#', query);
  std::string_view parameters = rest.substr(query + 1, fragment == std::string_view::npos
                                                           ? std::string_view::npos
                                                           : fragment - query - 1);
  bool first = true;
  while (true) {
    const std::size_t amp = parameters.find('&');
    const std::string_view parameter = parameters.substr(0, amp);
    const std::size_t equals = parameter.find('=');
    if (!first) out += '&';
    first = false;
    if (equals != std::string_view::npos && is_secret_parameter(parameter.substr(0, equals))) {
      out += parameter.substr(0, equals + 1);
      out += "***";
    } else {
      out += parameter;
    }
    if (amp == std::string_view::npos) break;
    parameters.remove_prefix(amp + 1);
  }
  if (fragment != std::string_view::npos) out += rest.substr(fragment);
  return out;
}

}  // namespace

std::string quote(std::string_view text, std::size_t max_chars) {
  std::string out = "'";
  const std::size_t shown = std::min(text.size(), max_chars);
  for (std::size_t i = 0; i < shown; ++i) append_escaped(out, text[i]);
  if (shown < text.size()) {
    out += "...' (" + std::to_string(text.size()) + " bytes)";
  } else {
    out += '\'';
  }
  return out;
}

std::string scrub_secrets(std::string_view text) {
  std::string out;
  std::size_t copied = 0;
  std::size_t search = 0;
  while (true) {
    const std::size_t separator = text.find("://", search);
    if (separator == std::string_view::npos) break;
    // The scheme: letters, digits, '+', '-', '.' before "://".
    std::size_t begin = separator;
    while (begin > copied) {
      const char c = text[begin - 1];
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') break;
      --begin;
    }
    const std::size_t end = uri_end(text, separator + 3);
    if (begin == separator) {  // "://" with no scheme: not a URI
      search = separator + 3;
      continue;
    }
    out += text.substr(copied, begin - copied);
    out += scrub_uri(text.substr(begin, end - begin));
    copied = end;
    search = end;
  }
  out += text.substr(copied);
  return out;
}

std::string duration_text(std::chrono::nanoseconds duration) {
  const std::int64_t count = duration.count();
  if (count == 0) return "0s";
  constexpr std::array<std::pair<std::int64_t, std::string_view>, 3> kUnits{{
      {1'000'000'000, "s"}, {1'000'000, "ms"}, {1'000, "us"}}};
  for (const auto& [unit_ns, unit] : kUnits) {
    if (count % unit_ns == 0) return std::to_string(count / unit_ns) + std::string(unit);
  }
  return std::to_string(count) + "ns";
}

std::string version_text(std::span<const int> version) {
  std::string text;
  for (int part : version) text += (text.empty() ? "" : ".") + std::to_string(part);
  return text;
}

}  // namespace inferloop::detail
