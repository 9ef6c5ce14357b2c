// "Did you mean": see did_you_mean.hpp.
#include "util/did_you_mean.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <string>

namespace inferloop::detail {
namespace {

// Case and '-' vs '_' are the commonest slips ("Num-Replicas"); compare
// without them so such a key is always close to the real one.
std::string normalized_key(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (char c : key) {
    out += c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// Words longer than this are never compared: no key or enum name is half
// as long, and the distance table grows with the product of the lengths.
constexpr std::size_t kLongestComparedWord = 64;

}  // namespace

// Optimal string alignment distance (Levenshtein plus adjacent transpositions),
// so "num_replcias" is one edit from "num_replicas".
std::size_t edit_distance(std::string_view a, std::string_view b) {
  const std::size_t rows = a.size() + 1;
  const std::size_t cols = b.size() + 1;
  std::vector<std::size_t> d(rows * cols);
  auto at = [&](std::size_t i, std::size_t j) -> std::size_t& { return d[i * cols + j]; };
  for (std::size_t i = 0; i < rows; ++i) at(i, 0) = i;
  for (std::size_t j = 0; j < cols; ++j) at(0, j) = j;
  for (std::size_t i = 1; i < rows; ++i) {
    for (std::size_t j = 1; j < cols; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
      }
    }
  }
  return at(rows - 1, cols - 1);
}

std::optional<std::string_view> closest(std::string_view word,
                                        const std::vector<std::string_view>& candidates) {
  if (word.size() > kLongestComparedWord) return std::nullopt;
  const std::string normalized = normalized_key(word);
  std::optional<std::string_view> best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (std::string_view candidate : candidates) {
    const std::size_t distance = edit_distance(normalized, normalized_key(candidate));
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  // About one edit per three characters, at most three: "devise" -> "device",
  // but "colour" is not a typo of "output".
  const std::size_t longest = std::max(normalized.size(), best ? best->size() : 0);
  const std::size_t allowed = std::clamp<std::size_t>(longest / 3, 1, 3);
  if (best && best_distance <= allowed) return best;
  // Else a word that extends or shortens a candidate ("blocking", "model"),
  // the closest such one.
  best.reset();
  best_distance = std::numeric_limits<std::size_t>::max();
  for (std::string_view candidate : candidates) {
    const std::string other = normalized_key(candidate);
    const std::size_t shorter = std::min(other.size(), normalized.size());
    if (shorter < 4 || other.compare(0, shorter, normalized, 0, shorter) != 0) continue;
    const std::size_t distance = edit_distance(normalized, other);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

}  // namespace inferloop::detail
