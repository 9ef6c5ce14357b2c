// Parsing and reading an XGBoost model document: see model_document.hpp.
#include "model/model_document.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <optional>
#include <system_error>
#include <unordered_set>
#include <utility>

#include "inferloop/error.hpp"
#include "util/text.hpp"

namespace inferloop::detail {
namespace {

using json = nlohmann::json;

// A path may be long, but it is still input: quoted, with room for PATH_MAX.
constexpr std::size_t kQuotedSourceChars = 4096;

// nlohmann's DOM builder with the gate's limits (see model_document.hpp).
// Returning false from a callback stops the parse where it is; refusal()
// then says why.
class BoundedDomSax : public nlohmann::detail::json_sax_dom_parser<json> {
  using Base = nlohmann::detail::json_sax_dom_parser<json>;

 public:
  BoundedDomSax(json& root, std::size_t input_bytes) : Base(root, true), input_bytes_(input_bytes) {}

  bool number_float(double value, const std::string& lexeme) {
    float rounded = 0.0F;
    const char* end = lexeme.data() + lexeme.size();
    const auto [stop, error] = std::from_chars(lexeme.data(), end, rounded);
    if (error == std::errc() && stop == end) value = rounded;
    return Base::number_float(value, lexeme);
  }

  bool start_object(std::size_t claimed) {
    if (!enter(claimed, "an object")) return false;
    // One key set per nesting level, reused: clear() keeps its buckets, so
    // a model's thousands of tree objects do not each allocate a table.
    if (keys_.size() < depth_) keys_.resize(depth_);
    keys_[depth_ - 1].clear();
    return Base::start_object(claimed);
  }
  bool key(std::string& name) {
    if (!keys_[depth_ - 1].insert(name).second) {
      refusal_ = "the key " + quote(name) +
                 " appears twice in one object (xgboost would read a different value than "
                 "inferloop checks)";
      return false;
    }
    return Base::key(name);
  }
  bool end_object() {
    --depth_;
    return Base::end_object();
  }
  bool start_array(std::size_t claimed) {
    return enter(claimed, "an array") && Base::start_array(claimed);
  }
  bool end_array() {
    --depth_;
    return Base::end_array();
  }

  [[nodiscard]] const std::string& refusal() const noexcept { return refusal_; }

 private:
  bool enter(std::size_t claimed, const char* kind) {
    if (++depth_ > kMaxNestingDepth) {
      refusal_ = "it nests deeper than " + std::to_string(kMaxNestingDepth) +
                 " levels, which no XGBoost model does";
      return false;
    }
    // A UBJSON container states its count before its entries; every entry
    // takes at least a byte, so a count beyond the file's size is a lie.
    if (claimed != static_cast<std::size_t>(-1) && claimed > input_bytes_) {
      refusal_ = std::string(kind) + " claims " + std::to_string(claimed) +
                 " entries, more than the file's " + std::to_string(input_bytes_) + " bytes";
      return false;
    }
    return true;
  }

  std::size_t input_bytes_;
  std::size_t depth_ = 0;
  std::vector<std::unordered_set<std::string>> keys_;  // by depth - 1, objects only
  std::string refusal_;
};

// XGBoost's JSON writer emits the non-standard literals NaN, Infinity and
// -Infinity; nlohmann/json, like any strict JSON parser, rejects them.
// Outside strings they are rewritten to the strings "NaN", "Infinity" and
// "-Infinity", which DocumentReader::real() reads back. Returns nothing when
// the text has none, so that parse errors in ordinary files keep their
// exact positions.
std::optional<std::string> quote_nonfinite_literals(std::span<const std::uint8_t> bytes) {
  std::string text;
  bool replaced = false;
  bool in_string = false;
  bool escaped = false;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const char c = static_cast<char>(bytes[i]);
    if (in_string) {
      if (replaced) text += c;
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    bool matched = false;
    for (const std::string_view literal : {"NaN", "-Infinity", "Infinity"}) {
      if (bytes.size() - i >= literal.size() &&
          std::memcmp(bytes.data() + i, literal.data(), literal.size()) == 0) {
        if (!replaced) {
          // The first literal: copy what came before it, once.
          text.reserve(bytes.size() + bytes.size() / 8);
          text.assign(reinterpret_cast<const char*>(bytes.data()), i);
          replaced = true;
        }
        text += '"';
        text += literal;
        text += '"';
        i += literal.size() - 1;
        matched = true;
        break;
      }
    }
    if (matched) continue;
    if (c == '"') in_string = true;
    if (replaced) text += c;
  }
  if (!replaced) return std::nullopt;
  return text;
}

// "it starts with '{"learner": ...'" for text, "its first bytes are 62 69
// 6e 66 ..." otherwise: enough to recognise a file, bounded whatever it holds.
std::string first_bytes(std::span<const std::uint8_t> bytes) {
  const std::span<const std::uint8_t> head = bytes.first(std::min<std::size_t>(bytes.size(), 24));
  if (head.empty()) return "it is empty";
  const bool text = std::all_of(head.begin(), head.end(), [](std::uint8_t byte) {
    return (byte >= 0x20 && byte < 0x7f) || byte == '\n' || byte == '\r' || byte == '\t';
  });
  if (text) {
    return "it starts with " + quote(std::string_view(reinterpret_cast<const char*>(head.data()),
                                                      head.size()), 24);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (const std::uint8_t byte : head.first(std::min<std::size_t>(head.size(), 8))) {
    hex += hex.empty() ? "" : " ";
    hex += kHex[byte >> 4];
    hex += kHex[byte & 15];
  }
  return "its first bytes are " + hex;
}

}  // namespace

json parse_model_document(std::span<const std::uint8_t> bytes, ModelFormat format,
                          std::string_view source_name) {
  const std::string source = quote(source_name, kQuotedSourceChars);
  if (format == ModelFormat::kLegacyBinary) {
    throw Error(source + ": not an XGBoost JSON or UBJSON model (" + first_bytes(bytes) +
                "). inferloop loads only JSON and UBJSON models, whose layout it checks before "
                "libxgboost reads them; XGBoost's legacy binary format cannot be checked. If it "
                "is a legacy binary model, re-save it as UBJSON with the xgboost that wrote it: "
                "booster.save_model(\"model.ubj\")");
  }
  const char* format_name = format == ModelFormat::kJson ? "JSON" : "UBJSON";
  json document;
  BoundedDomSax sax(document, bytes.size());
  bool parsed = false;
  try {
    if (format == ModelFormat::kJson) {
      if (const auto quoted = quote_nonfinite_literals(bytes)) {
        parsed = json::sax_parse(quoted->begin(), quoted->end(), &sax, json::input_format_t::json);
      } else {
        parsed = json::sax_parse(bytes.begin(), bytes.end(), &sax, json::input_format_t::json);
      }
    } else {
      parsed = json::sax_parse(bytes.begin(), bytes.end(), &sax, json::input_format_t::ubjson);
    }
  } catch (const json::exception& error) {
    throw Error(source + ": not an XGBoost model: it does not parse as " + format_name + " (" +
                quote(error.what(), 200) + "; " + first_bytes(bytes) + "); " +
                std::string(kResaveHint));
  }
  if (!parsed) {
    throw Error(source + ": not an XGBoost model: " +
                (sax.refusal().empty() ? std::string("it does not parse as ") + format_name
                                       : sax.refusal()) +
                "; " + std::string(kResaveHint));
  }
  return document;
}

DocumentReader::DocumentReader(std::string_view source_name)
    : source_(quote(source_name, kQuotedSourceChars)) {}

void DocumentReader::fail(const std::string& where, const std::string& what) const {
  throw Error(source_ + ": " + (where.empty() ? "" : where + ": ") + what);
}

void DocumentReader::malformed(const std::string& where, const std::string& what) const {
  fail(where, what + "; " + std::string(kResaveHint));
}

const json& DocumentReader::member(const json& value, std::string_view key,
                                   const std::string& where) const {
  object(value, where);
  const auto found = value.find(key);
  if (found == value.end()) malformed(where, "missing key \"" + std::string(key) + "\"");
  return *found;
}

const json* DocumentReader::optional_member(const json& value, std::string_view key,
                                            const std::string& where) const {
  object(value, where);
  const auto found = value.find(key);
  return found == value.end() ? nullptr : &*found;
}

const json& DocumentReader::object(const json& value, const std::string& where) const {
  if (!value.is_object()) {
    malformed(where, std::string("expected an object, found ") + value.type_name());
  }
  return value;
}

const json& DocumentReader::array(const json& value, const std::string& where) const {
  if (!value.is_array()) malformed(where, std::string("expected an array, found ") + value.type_name());
  return value;
}

const std::string& DocumentReader::string(const json& value, const std::string& where) const {
  if (!value.is_string()) malformed(where, std::string("expected a string, found ") + value.type_name());
  return value.get_ref<const std::string&>();
}

std::int64_t DocumentReader::integer(const json& value, const std::string& where) const {
  if (value.is_number_integer() && !value.is_number_unsigned()) return value.get<std::int64_t>();
  if (value.is_number_unsigned()) {
    const auto unsigned_value = value.get<std::uint64_t>();
    if (unsigned_value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      malformed(where, "integer " + std::to_string(unsigned_value) + " is out of range");
    }
    return static_cast<std::int64_t>(unsigned_value);
  }
  if (value.is_boolean()) return value.get<bool>() ? 1 : 0;
  if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    std::int64_t parsed = 0;
    const auto [stop, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    if (text.empty() || error != std::errc() || stop != text.data() + text.size()) {
      malformed(where, "expected an integer, found " + quote(text));
    }
    return parsed;
  }
  malformed(where, std::string("expected an integer, found ") + value.type_name());
}

std::int64_t DocumentReader::integer_in(const json& value, const std::string& where,
                                        std::int64_t min, std::int64_t max) const {
  const std::int64_t result = integer(value, where);
  if (result < min || result > max) {
    malformed(where, std::to_string(result) + " is outside [" + std::to_string(min) + ", " +
                         std::to_string(max) + "]");
  }
  return result;
}

float DocumentReader::real(const json& value, const std::string& where) const {
  if (value.is_number()) return static_cast<float>(value.get<double>());
  if (value.is_string()) {  // see quote_nonfinite_literals()
    const auto& text = value.get_ref<const std::string&>();
    if (text == "NaN") return std::numeric_limits<float>::quiet_NaN();
    if (text == "Infinity") return std::numeric_limits<float>::infinity();
    if (text == "-Infinity") return -std::numeric_limits<float>::infinity();
  }
  malformed(where, std::string("expected a number, found ") + value.type_name());
}

std::vector<std::int64_t> DocumentReader::integers(const json& value, const std::string& where,
                                                   std::size_t expected_size) const {
  array(value, where);
  if (value.size() != expected_size) {
    malformed(where, "has " + std::to_string(value.size()) + " entries, expected " +
                         std::to_string(expected_size));
  }
  std::vector<std::int64_t> result;
  result.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    result.push_back(integer(value[i], where + "[" + std::to_string(i) + "]"));
  }
  return result;
}

std::vector<float> DocumentReader::reals(const json& value, const std::string& where,
                                         std::size_t expected_size) const {
  array(value, where);
  if (value.size() != expected_size) {
    malformed(where, "has " + std::to_string(value.size()) + " entries, expected " +
                         std::to_string(expected_size));
  }
  std::vector<float> result;
  result.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    result.push_back(real(value[i], where + "[" + std::to_string(i) + "]"));
  }
  return result;
}

std::vector<int> document_version(const json& document, const DocumentReader& reader,
                                  ModelFormat format) {
  const auto version = document.is_object() ? document.find("version") : document.end();
  const bool has_learner = document.is_object() && document.contains("learner") &&
                           document.at("learner").is_object();
  if (!has_learner || version == document.end() || !version->is_array() || version->size() != 3) {
    reader.fail("", std::string("not an XGBoost model: it is valid ") +
                        (format == ModelFormat::kJson ? "JSON" : "UBJSON") +
                        " but has no \"learner\" object and \"version\" [major, minor, patch] "
                        "array; " + std::string(kResaveHint));
  }
  std::vector<int> parts;
  for (std::size_t i = 0; i < 3; ++i) {
    parts.push_back(static_cast<int>(
        reader.integer_in((*version)[i], "version[" + std::to_string(i) + "]", 0, 1'000'000)));
  }
  return parts;
}

}  // namespace inferloop::detail
