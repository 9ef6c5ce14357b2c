// The one way inferloop parses an XGBoost model file: JSON or UBJSON bytes
// -> an nlohmann DOM, with the limits that keep a hostile file from taking
// the process down, and a reader for that DOM whose every failure names the
// file and the key.
//
// parse_model_document() is what the admission gate (admission.hpp) and
// read_model_version() both use, so a file parses the same way wherever it
// is read:
//   - nesting is bounded (kMaxNestingDepth) for JSON and UBJSON alike: the
//     SAX handler stops the parse before nlohmann's UBJSON reader, which
//     recurses once per level, can go deeper;
//   - a container may not claim more entries than the file has bytes (a
//     UBJSON count is read before its entries), so no count in a small file
//     makes a large allocation;
//   - a key may appear only once per object: nlohmann keeps the last value
//     and xgboost's UBJSON reader the first, so a duplicate would let the
//     gate check one value while libxgboost loads the other;
//   - the NaN, Infinity and -Infinity literals xgboost's JSON writer emits
//     (1.7 writes NaN as every categorical split's threshold) are read as
//     the float values xgboost reads;
//   - every JSON float is rounded to float32 from its text, as xgboost does
//     (through double first would round twice and can land one ulp off).
//
// Pure functions and an immutable reader; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "inferloop/model_source.hpp"

namespace inferloop::detail {

// An XGBoost model is about ten levels deep (learner, gradient_booster,
// model, trees, a tree, its arrays); 64 leaves room for any future layout.
inline constexpr std::size_t kMaxNestingDepth = 64;

// What the gate says to do about a file it cannot read as a model.
inline constexpr std::string_view kResaveHint =
    "if the file was not written by xgboost's save_model, or is damaged, re-save the model "
    "with xgboost: booster.save_model(\"model.ubj\")";

// Parses `bytes` as `format` (kJson or kUbjson; kLegacyBinary throws).
// Throws inferloop::Error "'<source_name>': not an XGBoost model: ..." when
// the bytes are not JSON/UBJSON within the limits above.
[[nodiscard]] nlohmann::json parse_model_document(std::span<const std::uint8_t> bytes,
                                                  ModelFormat format,
                                                  std::string_view source_name);

// Typed access to a parsed model with precise messages: every failure is an
// inferloop::Error "'<source>': <where>: <what>" where `where` is the key
// path (learner.gradient_booster.model.trees[3].left_children[7]); input
// is quoted only through detail::quote.
class DocumentReader {
 public:
  explicit DocumentReader(std::string_view source_name);

  [[nodiscard]] const std::string& source() const noexcept { return source_; }

  // "'<source>': <where>: <what>".
  [[noreturn]] void fail(const std::string& where, const std::string& what) const;
  // fail() with kResaveHint appended: for a file that is damaged, not one
  // that is valid but unsupported.
  [[noreturn]] void malformed(const std::string& where, const std::string& what) const;

  const nlohmann::json& member(const nlohmann::json& object, std::string_view key,
                               const std::string& where) const;
  // nullptr when `object` has no `key`.
  const nlohmann::json* optional_member(const nlohmann::json& object, std::string_view key,
                                        const std::string& where) const;
  const nlohmann::json& object(const nlohmann::json& value, const std::string& where) const;
  const nlohmann::json& array(const nlohmann::json& value, const std::string& where) const;
  const std::string& string(const nlohmann::json& value, const std::string& where) const;

  // A parameter: XGBoost writes them as strings ("12"); a number reads too.
  std::int64_t integer(const nlohmann::json& value, const std::string& where) const;
  // integer() in [min, max].
  std::int64_t integer_in(const nlohmann::json& value, const std::string& where, std::int64_t min,
                          std::int64_t max) const;
  // An array entry or a tree's id: a JSON integer only, as libxgboost reads
  // them (a string there is an error to libxgboost, and a one-character
  // UBJSON string is an integer to it: "5" would be 53).
  std::int64_t index(const nlohmann::json& value, const std::string& where) const;
  // A number, or the literals NaN / Infinity / -Infinity.
  float real(const nlohmann::json& value, const std::string& where) const;

  // An array of exactly `expected_size` entries, each read by index() (or,
  // with booleans_too, a boolean, as default_left may be).
  std::vector<std::int64_t> integers(const nlohmann::json& value, const std::string& where,
                                     std::size_t expected_size, bool booleans_too = false) const;
  std::vector<float> reals(const nlohmann::json& value, const std::string& where,
                           std::size_t expected_size) const;

 private:
  std::string source_;  // already quoted
};

// "where[index]": the key path of an array entry.
[[nodiscard]] inline std::string path_of(const std::string& where, std::size_t index) {
  return where + "[" + std::to_string(index) + "]";
}

// The document's `version`: [major, minor, patch], each in [0, 1'000'000].
// Throws (through `reader`) when the document is not an object with a
// `learner` object and such a `version` array.
[[nodiscard]] std::vector<int> document_version(const nlohmann::json& document,
                                                const DocumentReader& reader,
                                                ModelFormat format);

}  // namespace inferloop::detail
