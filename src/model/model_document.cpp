// Parsing and reading an XGBoost model document: see model_document.hpp.
#include "model/model_document.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
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
  BoundedDomSax(json& root, std::size_t input_bytes, ModelFormat format)
      : Base(root, true), input_bytes_(input_bytes), format_(format) {}

  bool boolean(bool value) {
    if (!value && format_ == ModelFormat::kUbjson) {
      // libxgboost 1.7's UBJSON reader returns true for 'F'.
      refusal_ = "it holds a UBJSON false, which libxgboost 1.7 reads as true";
      return false;
    }
    return Base::boolean(value);
  }

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
  ModelFormat format_;
  std::size_t depth_ = 0;
  std::vector<std::unordered_set<std::string>> keys_;  // by depth - 1, objects only
  std::string refusal_;
};

struct JsonText {
  std::optional<std::string> rewritten;      // when the text has a non-finite literal
  std::optional<std::size_t> unicode_escape;  // byte offset of the first \u escape
};

// XGBoost's JSON writer emits the non-standard literals NaN, Infinity and
// -Infinity; nlohmann/json, like any strict JSON parser, rejects them.
// Outside strings they are rewritten to the strings "NaN", "Infinity" and
// "-Infinity", which DocumentReader::real() reads back. No rewrite when the
// text has none, so that parse errors in ordinary files keep their exact
// positions.
//
// Also finds \u escapes in strings: xgboost's JSON reader does not decode
// them (it keeps "\u005f" as six characters) while nlohmann does, so a key
// spelled with one would name different keys for the gate and libxgboost.
JsonText scan_json_text(std::span<const std::uint8_t> bytes) {
  JsonText result;
  std::string text;
  bool replaced = false;
  bool in_string = false;
  bool escaped = false;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const char c = static_cast<char>(bytes[i]);
    if (in_string) {
      if (replaced) text += c;
      if (escaped) {
        if (c == 'u' && !result.unicode_escape) result.unicode_escape = i - 1;
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
  if (replaced) result.rewritten = std::move(text);
  return result;
}

// The format libxgboost's loader gives bytes handed to it from memory
// (XGBoosterLoadModelFromBuffer, what XGBoostPredictor calls): '{' and then,
// after any blanks, '"' is JSON and a letter UBJSON; anything else is read
// as the legacy binary format.
ModelFormat loader_format(std::span<const std::uint8_t> bytes) {
  if (bytes.empty() || bytes[0] != '{') return ModelFormat::kLegacyBinary;
  std::size_t next = 1;
  while (next < bytes.size() && std::isspace(bytes[next]) != 0) ++next;
  if (next < bytes.size() && bytes[next] == '"') return ModelFormat::kJson;
  if (next < bytes.size() && std::isalpha(bytes[next]) != 0) return ModelFormat::kUbjson;
  return ModelFormat::kLegacyBinary;
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
  BoundedDomSax sax(document, bytes.size(), format);
  bool parsed = false;
  JsonText text;
  try {
    if (format == ModelFormat::kJson) {
      text = scan_json_text(bytes);
      if (text.rewritten) {
        parsed = json::sax_parse(text.rewritten->begin(), text.rewritten->end(), &sax,
                                 json::input_format_t::json);
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
  // The gate must read the bytes as libxgboost will; where the two readers
  // differ, the file is refused rather than checked as something else.
  if (text.unicode_escape) {
    throw Error(source + ": not an XGBoost model: byte " + std::to_string(*text.unicode_escape) +
                " starts a \\u escape in a string, which xgboost's JSON reader does not decode "
                "(it would read another key or name than inferloop checks); " +
                std::string(kResaveHint));
  }
  // (A document that is not an object is not a model at all; document_version()
  // says so more plainly.)
  if (document.is_object() && loader_format(bytes) != format) {
    throw Error(source + ": not an XGBoost model: libxgboost tells JSON from UBJSON by the "
                "first bytes ('{' then '\"' is JSON, '{' then a letter UBJSON), and these (" +
                first_bytes(bytes) + ") do not say " + format_name + "; " +
                std::string(kResaveHint));
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

std::int64_t DocumentReader::index(const json& value, const std::string& where) const {
  if (!value.is_number_integer()) {
    malformed(where, std::string("expected an integer, found ") + value.type_name());
  }
  return integer(value, where);
}

float DocumentReader::real(const json& value, const std::string& where) const {
  if (value.is_number()) {
    // Beyond float32's range (a JSON 1e300): infinity, as xgboost's reader
    // gives, rather than an undefined conversion.
    const double number = value.get<double>();
    if (std::isfinite(number) && std::fabs(number) > std::numeric_limits<float>::max()) {
      return number > 0 ? std::numeric_limits<float>::infinity()
                        : -std::numeric_limits<float>::infinity();
    }
    return static_cast<float>(number);
  }
  if (value.is_string()) {  // see scan_json_text()
    const auto& text = value.get_ref<const std::string&>();
    if (text == "NaN") return std::numeric_limits<float>::quiet_NaN();
    if (text == "Infinity") return std::numeric_limits<float>::infinity();
    if (text == "-Infinity") return -std::numeric_limits<float>::infinity();
  }
  malformed(where, std::string("expected a number, found ") + value.type_name());
}

std::vector<std::int64_t> DocumentReader::integers(const json& value, const std::string& where,
                                                   std::size_t expected_size,
                                                   bool booleans_too) const {
  array(value, where);
  if (value.size() != expected_size) {
    malformed(where, "has " + std::to_string(value.size()) + " entries, expected " +
                         std::to_string(expected_size));
  }
  std::vector<std::int64_t> result;
  result.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    const std::string entry = where + "[" + std::to_string(i) + "]";
    result.push_back(booleans_too && value[i].is_boolean() ? (value[i].get<bool>() ? 1 : 0)
                                                           : index(value[i], entry));
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
