// LightGBM's text model format as LightGBM's own loader reads it: the
// pieces of src/boosting/gbdt_model_text.cpp (GBDT::LoadModelFromString),
// src/io/tree.cpp (Tree::Tree(const char*, size_t*)) and
// include/LightGBM/utils/common.h (GetLine, SkipNewLine, Split, Atoi, Atof,
// AtofPrecise) that decide what a file means, rewritten as bounded readers.
//
// Why mirror the loader instead of reading the format "properly": the admission
// gate (lightgbm_admission.hpp) must check the very model that LightGBM's
// own loader (lib_lightgbm, under a planned LightGBMPredictor) would read
// from the same bytes, and that loader has quirks a cleaner reader would
// not share. It ends a line at '\r' as well as '\n'; a
// key's last value wins; a tree is at most 22 key=value lines and ends at the
// first empty line; it finds trees by the byte offsets in tree_sizes; it
// reads integer arrays with Atoi, which silently reads 0 for a missing entry
// and stops at the first non-digit; its Atof (used for the sigmoid) rounds
// differently from strtod. So each reader here either reads exactly what
// LightGBM reads or refuses the file: duplicate keys, entries that are not
// plain numbers, counts that differ from what the loader expects, a '\0'
// (LightGBM's C API stops reading there) and a tree that runs off the end
// of the file (where LightGBM's tree parser reads past the buffer) are all
// refused with the line they are on.
//
// Pure functions over an immutable text; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace inferloop::detail {

// What the gate says to do about a file it cannot read as a LightGBM model.
inline constexpr std::string_view kLightGBMResaveHint =
    "if the file was not written by lightgbm's save_model, or is damaged, re-save the model "
    "with lightgbm: booster.save_model(\"model.txt\")";

// LightGBM's tree parser reads at most this many key=value lines per tree.
inline constexpr std::size_t kLightGBMTreeLines = 22;

// The model text, with messages that name the file and the line.
class LightGBMText {
 public:
  // Throws when `bytes` hold a '\0' (LightGBM's C API reads a model string
  // up to its first '\0', so the gate would check more than it loads).
  LightGBMText(std::span<const std::uint8_t> bytes, std::string_view source_name);

  [[nodiscard]] std::string_view text() const noexcept { return text_; }
  [[nodiscard]] std::size_t size() const noexcept { return text_.size(); }

  // "'<source>': line N: <what>; <kLightGBMResaveHint>" (N counts from 1:
  // the line that holds byte `offset`).
  [[noreturn]] void malformed(std::size_t offset, const std::string& what) const;
  // The same without the re-save hint: for a valid model inferloop does not serve.
  [[noreturn]] void fail(std::size_t offset, const std::string& what) const;

  // The 1-based line that holds byte `offset`.
  [[nodiscard]] std::size_t line_of(std::size_t offset) const noexcept;

  // Common::GetLine: the line starting at `offset` ends at the first '\r'
  // or '\n' (or the end). Returns its end.
  [[nodiscard]] std::size_t line_end(std::size_t offset) const noexcept;
  // Common::SkipNewLine after a line end: one '\r', then one '\n'.
  [[nodiscard]] std::size_t skip_newline(std::size_t offset) const noexcept;

 private:
  [[nodiscard]] std::string where(std::size_t offset) const;
  std::string_view text_;
  std::string source_;  // quoted
};

// A value as LightGBM's loader read it, with the byte offset of its line.
struct LightGBMValue {
  std::string_view text;
  std::size_t offset = 0;
};

// The header: every line up to the first one starting with "Tree=", read
// as LightGBM does (a line without '=' is a key with an empty value).
// Refuses what LightGBM would read differently from "key=rest of line": a
// key twice (LightGBM keeps the last), a line starting with '=', and a
// value holding '=' except the feature_names / monotone_constraints lines
// LightGBM takes whole.
struct LightGBMHeader {
  std::map<std::string, LightGBMValue, std::less<>> values;
  // The offset of the first "Tree=" line, or text.size() when there is none.
  std::size_t trees_begin = 0;
};
[[nodiscard]] LightGBMHeader read_lightgbm_header(const LightGBMText& text);

// The key=value lines of the tree whose "Tree=" line starts at `offset`, as
// Tree::Tree(const char*) reads them: at most kLightGBMTreeLines lines, up
// to the first empty one. Refuses a "Tree=" line missing at `offset`, a line
// without '=', a key twice, and a tree that ends with the file rather than
// with an empty line.
[[nodiscard]] std::map<std::string, LightGBMValue, std::less<>> read_lightgbm_tree_lines(
    const LightGBMText& text, std::size_t offset);

// Common::Split(value, ' '): the space-separated tokens, empty ones dropped.
[[nodiscard]] std::vector<std::string_view> lightgbm_tokens(std::string_view value);

// An integer as Common::Atoi reads it, in [min, max]: only "-?[0-9]+" is
// accepted (Atoi would read "12x" as 12 and "x" as 0). `what` names it in
// the message.
[[nodiscard]] std::int64_t lightgbm_integer(const LightGBMText& text, const LightGBMValue& value,
                                            std::string_view token, const std::string& what,
                                            std::int64_t min, std::int64_t max);

// Exactly `count` integers in [min, max], as StringToArrayFast<int> reads
// them (Atoi after Atoi; a missing entry would silently read as 0).
[[nodiscard]] std::vector<std::int64_t> lightgbm_integers(const LightGBMText& text,
                                                          const LightGBMValue& value,
                                                          const std::string& what,
                                                          std::size_t count, std::int64_t min,
                                                          std::int64_t max);

// Exactly `count` doubles, as StringToArray<double> reads them (AtofPrecise:
// correctly rounded). Only JSON-style numbers ("-?(0|[1-9][0-9]*)(.[0-9]+)?
// ([eE][+-]?[0-9]+)?") and inf, -inf, nan, -nan are accepted: within that
// grammar fast_double_parser and strtod, which AtofPrecise tries in turn,
// both read the whole token to the correctly rounded double, as
// std::from_chars does here. Out-of-range numbers are refused.
[[nodiscard]] std::vector<double> lightgbm_doubles(const LightGBMText& text,
                                                   const LightGBMValue& value,
                                                   const std::string& what, std::size_t count);

// Common::Atof, LightGBM's own decimal reader (not correctly rounded: it sums
// digits in double and scales by powers of ten), which LightGBM uses for an
// objective's sigmoid. `token` must be "[0-9]+(.[0-9]+)?([eE][+-]?[0-9]+)?";
// returns nothing otherwise.
[[nodiscard]] std::optional<double> lightgbm_atof(std::string_view token);

}  // namespace inferloop::detail
