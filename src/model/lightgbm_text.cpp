// LightGBM's text model format as LightGBM's loader reads it: see
// lightgbm_text.hpp. Each function names the LightGBM code it mirrors.
#include "model/lightgbm_text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

#include "inferloop/error.hpp"
#include "util/text.hpp"

namespace inferloop::detail {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "-?[0-9]+"
bool is_integer_token(std::string_view token) {
  if (token.starts_with('-')) token.remove_prefix(1);
  return !token.empty() && std::all_of(token.begin(), token.end(), is_digit);
}

// Digits from `at`; returns where they stop.
std::size_t skip_digits(std::string_view token, std::size_t at) {
  while (at < token.size() && is_digit(token[at])) ++at;
  return at;
}

// "-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?": RFC 7159's number, the
// grammar fast_double_parser reads whole (or hands to strtod, which reads
// the same token whole).
bool is_json_number(std::string_view token) {
  std::size_t at = token.starts_with('-') ? 1 : 0;
  if (at >= token.size() || !is_digit(token[at])) return false;
  if (token[at] == '0') {
    ++at;
  } else {
    at = skip_digits(token, at);
  }
  if (at < token.size() && token[at] == '.') {
    const std::size_t digits = at + 1;
    at = skip_digits(token, digits);
    if (at == digits) return false;
  }
  if (at < token.size() && (token[at] == 'e' || token[at] == 'E')) {
    ++at;
    if (at < token.size() && (token[at] == '+' || token[at] == '-')) ++at;
    const std::size_t digits = at;
    at = skip_digits(token, digits);
    if (at == digits) return false;
  }
  return at == token.size();
}

// LightGBM's Common::Pow, step for step (its rounding is part of Atof's).
double lightgbm_pow(double base, int power) {
  if (power < 0) return 1.0 / lightgbm_pow(base, -power);
  if (power == 0) return 1;
  if (power % 2 == 0) return lightgbm_pow(base * base, power / 2);
  if (power % 3 == 0) return lightgbm_pow(base * base * base, power / 3);
  return base * lightgbm_pow(base, power - 1);
}

}  // namespace

LightGBMText::LightGBMText(std::span<const std::uint8_t> bytes, std::string_view source_name)
    : text_(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
      source_(quote(source_name, kQuotedPathMaxChars)) {
  if (const std::size_t nul = text_.find('\0'); nul != std::string_view::npos) {
    malformed(nul, "holds a NUL byte; LightGBM's C API reads a model only up to its first NUL, "
                   "so it would load less than inferloop checks");
  }
}

std::size_t LightGBMText::line_of(std::size_t offset) const noexcept {
  // Lines as GetLine/SkipNewLine count them: '\n', '\r\n' and a lone '\r'
  // each end one.
  std::size_t line = 1;
  const std::size_t stop = std::min(offset, text_.size());
  for (std::size_t i = 0; i < stop; ++i) {
    if (text_[i] == '\n' || (text_[i] == '\r' && (i + 1 >= text_.size() || text_[i + 1] != '\n'))) {
      ++line;
    }
  }
  return line;
}

std::string LightGBMText::where(std::size_t offset) const {
  return source_ + ": line " + std::to_string(line_of(offset));
}

void LightGBMText::malformed(std::size_t offset, const std::string& what) const {
  throw Error(where(offset) + ": " + what + "; " + std::string(kLightGBMResaveHint));
}

void LightGBMText::fail(std::size_t offset, const std::string& what) const {
  throw Error(where(offset) + ": " + what);
}

std::size_t LightGBMText::line_end(std::size_t offset) const noexcept {
  while (offset < text_.size() && text_[offset] != '\n' && text_[offset] != '\r') ++offset;
  return offset;
}

std::size_t LightGBMText::skip_newline(std::size_t offset) const noexcept {
  if (offset < text_.size() && text_[offset] == '\r') ++offset;
  if (offset < text_.size() && text_[offset] == '\n') ++offset;
  return offset;
}

LightGBMHeader read_lightgbm_header(const LightGBMText& text) {
  // GBDT::LoadModelFromString's first loop: Split(line, '=') of every line
  // up to "Tree=", pieces: 1 -> key with an empty value, 2 -> key and value,
  // more -> only feature_names and monotone_constraints, taken whole.
  LightGBMHeader header;
  header.trees_begin = text.size();
  const std::string_view all = text.text();
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = text.line_end(at);
    const std::string_view line = all.substr(at, end - at);
    if (line.starts_with("Tree=")) {
      header.trees_begin = at;
      break;
    }
    if (!line.empty()) {
      const std::size_t equals = line.find('=');
      if (equals == 0) {
        text.malformed(at, "line starts with '=' (LightGBM would read its value as a key)");
      }
      const std::string_view key = line.substr(0, equals);
      const std::string_view value =
          equals == std::string_view::npos ? std::string_view() : line.substr(equals + 1);
      if (value.find('=') != std::string_view::npos) {
        // Split keeps them whole only when it finds 2+ pieces after the key;
        // a value with no '=' at either end always gives that.
        const bool taken_whole = key == "feature_names" || key == "monotone_constraints";
        if (!taken_whole || value.front() == '=' || value.back() == '=') {
          text.malformed(at, "the value of " + quote(key) +
                                 " holds '=', which LightGBM's loader would read differently");
        }
      }
      const auto [entry, inserted] =
          header.values.emplace(std::string(key), LightGBMValue{value, at});
      if (!inserted) {
        text.malformed(at, "key " + quote(key) + " appears twice (LightGBM keeps the last, "
                           "first at line " +
                           std::to_string(text.line_of(entry->second.offset)) + ")");
      }
    }
    at = text.skip_newline(end);
  }
  return header;
}

std::map<std::string, LightGBMValue, std::less<>> read_lightgbm_tree_lines(
    const LightGBMText& text, std::size_t offset) {
  const std::string_view all = text.text();
  const std::size_t title_end = text.line_end(offset);
  if (offset >= text.size() || !all.substr(offset, title_end - offset).starts_with("Tree=")) {
    text.malformed(offset, "tree_sizes puts a tree here, but the line does not start with "
                           "\"Tree=\"");
  }
  // Tree::Tree(const char*): up to 22 lines "key=value", stopping at an
  // empty line. It scans for '=' and for the line end without a bound, so a
  // line without '=' or a tree that the file ends inside is refused here.
  std::map<std::string, LightGBMValue, std::less<>> lines;
  std::size_t at = text.skip_newline(title_end);
  for (std::size_t read = 0; read < kLightGBMTreeLines; ++read) {
    if (at >= text.size()) {
      text.malformed(offset, "the tree ends with the file, not with an empty line (LightGBM's "
                             "tree parser would read past the end)");
    }
    if (all[at] == '\r' || all[at] == '\n') break;
    const std::size_t end = text.line_end(at);
    const std::string_view line = all.substr(at, end - at);
    const std::size_t equals = line.find('=');
    if (equals == std::string_view::npos) {
      text.malformed(at, "a tree line without '=' (LightGBM's tree parser would read on "
                         "into the next line)");
    }
    if (end >= text.size()) {
      text.malformed(at, "the tree ends with the file, not with an empty line (LightGBM's "
                         "tree parser would read past the end)");
    }
    const std::string_view key = line.substr(0, equals);
    if (!lines.emplace(std::string(key), LightGBMValue{line.substr(equals + 1), at}).second) {
      text.malformed(at, "key " + quote(key) + " appears twice in this tree (LightGBM keeps the "
                         "last)");
    }
    // Tree::Tree skips one '\r' and then one '\n', as SkipNewLine does.
    at = text.skip_newline(end);
  }
  return lines;
}

std::vector<std::string_view> lightgbm_tokens(std::string_view value) {
  std::vector<std::string_view> tokens;
  std::size_t at = 0;
  while (at < value.size()) {
    const std::size_t space = std::min(value.find(' ', at), value.size());
    if (space > at) tokens.push_back(value.substr(at, space - at));
    at = space + 1;
  }
  return tokens;
}

std::int64_t lightgbm_integer(const LightGBMText& text, const LightGBMValue& value,
                              std::string_view token, const std::string& what, std::int64_t min,
                              std::int64_t max) {
  std::int64_t number = 0;
  const auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), number);
  if (!is_integer_token(token) || error != std::errc() || end != token.data() + token.size() ||
      number < min || number > max) {
    text.malformed(value.offset, what + ": expected an integer in [" + std::to_string(min) +
                                     ", " + std::to_string(max) + "], found " + quote(token));
  }
  return number;
}

std::vector<std::int64_t> lightgbm_integers(const LightGBMText& text, const LightGBMValue& value,
                                            const std::string& what, std::size_t count,
                                            std::int64_t min, std::int64_t max) {
  const std::vector<std::string_view> tokens = lightgbm_tokens(value.text);
  if (tokens.size() != count) {
    text.malformed(value.offset, what + " has " + std::to_string(tokens.size()) +
                                     " entries, expected " + std::to_string(count));
  }
  std::vector<std::int64_t> numbers;
  numbers.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    numbers.push_back(lightgbm_integer(text, value, tokens[i],
                                       what + "[" + std::to_string(i) + "]", min, max));
  }
  return numbers;
}

std::vector<double> lightgbm_doubles(const LightGBMText& text, const LightGBMValue& value,
                                     const std::string& what, std::size_t count) {
  const std::vector<std::string_view> tokens = lightgbm_tokens(value.text);
  if (tokens.size() != count) {
    text.malformed(value.offset, what + " has " + std::to_string(tokens.size()) +
                                     " entries, expected " + std::to_string(count));
  }
  std::vector<double> numbers;
  numbers.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::string_view token = tokens[i];
    double number = 0.0;
    // What fmt's "{:.17g}" writes for non-finite values, and strtod reads.
    if (token == "inf" || token == "-inf") {
      number = token == "inf" ? std::numeric_limits<double>::infinity()
                              : -std::numeric_limits<double>::infinity();
    } else if (token == "nan" || token == "-nan") {
      number = std::numeric_limits<double>::quiet_NaN();
    } else {
      const auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), number);
      if (!is_json_number(token) || error != std::errc() || end != token.data() + token.size()) {
        text.malformed(value.offset, what + "[" + std::to_string(i) + "]: expected a number " +
                                         "LightGBM reads exactly, found " + quote(token));
      }
    }
    numbers.push_back(number);
  }
  return numbers;
}

std::optional<double> lightgbm_atof(std::string_view token) {
  // Common::Atof for an unsigned decimal token, operation for operation.
  std::size_t at = skip_digits(token, 0);
  if (at == 0) return std::nullopt;
  double value = 0.0;
  for (std::size_t i = 0; i < at; ++i) value = value * 10.0 + (token[i] - '0');
  if (at < token.size() && token[at] == '.') {
    const std::size_t first = at + 1;
    at = skip_digits(token, first);
    if (at == first) return std::nullopt;
    double right = 0.0;
    for (std::size_t i = first; i < at; ++i) right = (token[i] - '0') + right * 10.0;
    value += right / lightgbm_pow(10.0, static_cast<int>(at - first));
  }
  bool negative_exponent = false;
  double scale = 1.0;
  if (at < token.size() && (token[at] == 'e' || token[at] == 'E')) {
    ++at;
    if (at < token.size() && (token[at] == '-' || token[at] == '+')) {
      negative_exponent = token[at] == '-';
      ++at;
    }
    const std::size_t first = at;
    at = skip_digits(token, first);
    if (at == first || at - first > 9) return std::nullopt;  // Atof's uint32 would wrap
    std::uint32_t exponent = 0;
    for (std::size_t i = first; i < at; ++i) {
      exponent = exponent * 10 + static_cast<std::uint32_t>(token[i] - '0');
    }
    exponent = std::min<std::uint32_t>(exponent, 308);
    while (exponent >= 50) {
      scale *= 1E50;
      exponent -= 50;
    }
    while (exponent >= 8) {
      scale *= 1E8;
      exponent -= 8;
    }
    while (exponent > 0) {
      scale *= 10.0;
      exponent -= 1;
    }
  }
  if (at != token.size()) return std::nullopt;
  // Atof: sign * (frac ? value / scale : value * scale), with sign 1.0.
  return 1.0 * (negative_exponent ? (value / scale) : (value * scale));
}

}  // namespace inferloop::detail
