// YAML text bounds and plain-scalar types: see yaml_text.hpp.
#include "config/yaml_text.hpp"

#include <array>
#include <vector>

namespace inferloop::detail {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "---" or "..." at column 0, alone or followed by a blank: a document
// marker, which ends every collection, quoted scalar and block scalar.
bool is_document_marker(std::string_view line) {
  if (!line.starts_with("---") && !line.starts_with("...")) return false;
  return line.size() == 3 || is_blank(line[3]);
}

// The nesting scan's state, carried from line to line.
class NestingScan {
 public:
  explicit NestingScan(int max_depth) : max_depth_(max_depth) {}

  // Scans one line (without its line break). Returns the 0-based column at
  // which the bound first exceeds max_depth, if it does.
  std::optional<std::size_t> line(std::string_view text) {
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    std::size_t indentation = 0;
    while (indentation < text.size() && text[indentation] == ' ') ++indentation;
    const bool empty = indentation == text.size();

    if (quote_ == 0 && is_document_marker(text)) {
      *this = NestingScan(max_depth_);
      return scan(text, 3, /*at_line_start=*/true, 0);
    }
    if (block_scalar_parent_) {
      // A block scalar's content: blank lines and lines indented deeper
      // than the line that introduced it, whatever they hold.
      if (empty || indentation > *block_scalar_parent_) return std::nullopt;
      block_scalar_parent_.reset();
    }
    if (quote_ != 0 || flow_depth_ > 0) {
      // Inside a quoted scalar or a flow collection, lines and
      // indentation mean nothing.
      return scan(text, 0, /*at_line_start=*/quote_ == 0, indentation);
    }
    if (empty || text[indentation] == '#') return std::nullopt;
    while (!indents_.empty() && indents_.back() > indentation) indents_.pop_back();
    if (indents_.empty() || indents_.back() < indentation) indents_.push_back(indentation);
    if (bound(0) > static_cast<std::size_t>(max_depth_)) return indentation;
    return scan(text, indentation, /*at_line_start=*/true, indentation);
  }

 private:
  // The bound at this point of the line: two levels per open indentation
  // (a block mapping and a block sequence may share one), one per compact
  // indicator ("- - x"), one for a mapping its last node may open
  // ("- key: v"), one per open flow bracket.
  [[nodiscard]] std::size_t bound(std::size_t compact) const {
    return 2 * indents_.size() + compact + 1 + static_cast<std::size_t>(flow_depth_);
  }

  std::optional<std::size_t> scan(std::string_view text, std::size_t from, bool at_line_start,
                                  std::size_t indentation) {
    // True where a node may start: where a quote opens a quoted scalar, a
    // bracket a flow collection, '|' or '>' a block scalar.
    bool node_start = at_line_start;
    std::size_t compact = 0;
    for (std::size_t i = from; i < text.size(); ++i) {
      const char c = text[i];
      if (quote_ == '\'') {
        if (c == '\'') {
          if (i + 1 < text.size() && text[i + 1] == '\'') {
            ++i;  // '' is an escaped quote
          } else {
            quote_ = 0;
            node_start = false;
          }
        }
        continue;
      }
      if (quote_ == '"') {
        if (c == '\\') {
          ++i;  // an escape: the next character is not the closing quote
        } else if (c == '"') {
          quote_ = 0;
          node_start = false;
        }
        continue;
      }
      if (is_blank(c)) continue;
      const bool after_blank = i == 0 || is_blank(text[i - 1]);
      if (c == '#' && after_blank) return std::nullopt;  // a comment
      const bool before_blank = i + 1 == text.size() || is_blank(text[i + 1]);
      if (node_start && (c == '\'' || c == '"')) {
        quote_ = c;
        continue;
      }
      if ((c == '[' || c == '{') && (node_start || flow_depth_ > 0)) {
        ++flow_depth_;
        if (bound(compact) > static_cast<std::size_t>(max_depth_)) return i;
        node_start = true;
        continue;
      }
      if ((c == ']' || c == '}') && flow_depth_ > 0) {
        --flow_depth_;
        node_start = false;
        continue;
      }
      if (c == ',' && flow_depth_ > 0) {
        node_start = true;
        continue;
      }
      if (c == ':' && (before_blank || flow_depth_ > 0)) {
        node_start = true;  // a mapping value follows
        continue;
      }
      if ((c == '-' || c == '?') && node_start && before_blank) {
        if (flow_depth_ == 0) ++compact;
        if (bound(compact) > static_cast<std::size_t>(max_depth_)) return i;
        continue;
      }
      if ((c == '!' || c == '&') && node_start) {
        // A tag or an anchor: a node still starts after it.
        while (i + 1 < text.size() && !is_blank(text[i + 1])) ++i;
        continue;
      }
      if ((c == '|' || c == '>') && node_start && flow_depth_ == 0) {
        block_scalar_parent_ = indentation;
        return std::nullopt;
      }
      node_start = false;  // a plain scalar or an alias: nothing in it nests
    }
    return std::nullopt;
  }

  int max_depth_;
  std::vector<std::size_t> indents_;  // block indentations open, innermost last
  int flow_depth_ = 0;
  char quote_ = 0;  // '\'' or '"' inside a quoted scalar, else 0
  // While skipping a block scalar: the indentation of the line that began it.
  std::optional<std::size_t> block_scalar_parent_;
};

// [-+]? digits
bool is_integer(std::string_view text) {
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) text.remove_prefix(1);
  if (text.empty()) return false;
  for (const char c : text) {
    if (!is_digit(c)) return false;
  }
  return true;
}

std::size_t count_digits(std::string_view text, std::size_t from) {
  std::size_t end = from;
  while (end < text.size() && is_digit(text[end])) ++end;
  return end - from;
}

// [-+]? ( \.[0-9]+ | [0-9]+ ( \.[0-9]* )? ) ( [eE][-+]?[0-9]+ )?
// | [-+]? \.(inf|Inf|INF) | \.(nan|NaN|NAN)
bool is_float(std::string_view text) {
  for (const std::string_view nan : {".nan", ".NaN", ".NAN"}) {
    if (text == nan) return true;
  }
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) text.remove_prefix(1);
  for (const std::string_view inf : {".inf", ".Inf", ".INF"}) {
    if (text == inf) return true;
  }
  std::size_t at = 0;
  const std::size_t whole = count_digits(text, at);
  at += whole;
  std::size_t fraction = 0;
  const bool has_point = at < text.size() && text[at] == '.';
  if (has_point) {
    ++at;
    fraction = count_digits(text, at);
    at += fraction;
  }
  if (whole == 0 && fraction == 0) return false;
  if (at < text.size() && (text[at] == 'e' || text[at] == 'E')) {
    ++at;
    if (at < text.size() && (text[at] == '-' || text[at] == '+')) ++at;
    const std::size_t exponent = count_digits(text, at);
    if (exponent == 0) return false;
    at += exponent;
  }
  return at == text.size();
}

}  // namespace

std::optional<NestingExcess> find_excess_nesting(std::string_view text, int max_depth) {
  NestingScan scan(max_depth);
  int line_number = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = text.find('\n', start);
    const std::string_view line =
        text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    ++line_number;
    if (const std::optional<std::size_t> column = scan.line(line)) {
      return NestingExcess{line_number, static_cast<int>(*column) + 1};
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return std::nullopt;
}

ScalarKind classify_plain_scalar(std::string_view text) noexcept {
  constexpr std::array<std::string_view, 6> kBools = {"true", "True", "TRUE",
                                                      "false", "False", "FALSE"};
  for (const std::string_view spelling : kBools) {
    if (text == spelling) return ScalarKind::kBool;
  }
  if (is_integer(text)) return ScalarKind::kInt;
  if (is_float(text)) return ScalarKind::kFloat;
  return ScalarKind::kString;
}

}  // namespace inferloop::detail
