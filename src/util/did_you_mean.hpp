// "Did you mean ...?": the one rule by which inferloop suggests a name for a
// misspelt one (config keys, enum values such as wait strategies, predictor
// class names), so every suggestion behaves the same.
//
// Pure functions; any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace inferloop::detail {

// Optimal string alignment distance (Levenshtein plus adjacent
// transpositions), so "num_replcias" is one edit from "num_replicas".
[[nodiscard]] std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word` if it is close enough to be a likely typo:
// compared without case and with '-' as '_' (the commonest slips), within
// about one edit per three characters (at most three); else a candidate that
// `word` extends or shortens ("blocking", "model"). Words longer than 64
// characters are never compared.
[[nodiscard]] std::optional<std::string_view> closest(std::string_view word,
                                                      const std::vector<std::string_view>& candidates);

}  // namespace inferloop::detail
