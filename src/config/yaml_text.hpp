// What the config loader checks in YAML text itself, outside yaml-cpp: the
// bounds a text must meet before yaml-cpp sees it, and the YAML 1.2 core
// schema type of a plain scalar (yaml-cpp resolves no scalar types itself).
//
// Why bound the text first: yaml-cpp builds its tree with one recursive call
// per nesting level. Its own guard stops at 500 levels, which already takes
// between 128 and 256 KiB of stack (yaml-cpp 0.7 on x86-64: 499 nested
// flow sequences crash a thread of 128 KiB and pass one of 256 KiB), more
// than a host thread with a small stack has. find_excess_nesting() refuses anything
// nested more than kMaxConfigNesting levels before yaml-cpp starts, so
// parsing a config needs a few KiB of stack, and a file that only a
// misjudgement of this scan lets through still meets yaml-cpp's own guard.
//
// Every function here is a loop over the text: no recursion, no regex (a
// recursive std::regex match overflows the stack on a long scalar). Pure
// functions; any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace inferloop::detail {

// The largest config file (or string) parse_config and load_config read.
// Config files are a few hundred bytes; an application file that holds an
// inference_config section is still far below this.
inline constexpr std::size_t kMaxConfigBytes = std::size_t{1} << 20;

// How deep collections may nest in a config text (a mapping in a sequence
// in a mapping ... counts one level each). inferloop's own keys need two.
inline constexpr int kMaxConfigNesting = 64;

// Where a text first nests deeper than allowed. line and column are 1-based.
struct NestingExcess {
  int line = 0;
  int column = 0;
};

// The first place where `text` may nest collections more than `max_depth`
// levels deep, or nullopt. The scan is an upper bound: it follows flow
// brackets ([ {), block indentation and compact indicators ("- - x"), skips
// comments, quoted scalars and block scalars (| >), and counts each
// indentation level as two (a block sequence may share its parent mapping's
// indentation), so a text it passes nests at most max_depth levels; it may
// refuse a text that nests a little less.
[[nodiscard]] std::optional<NestingExcess> find_excess_nesting(std::string_view text,
                                                              int max_depth = kMaxConfigNesting);

// The YAML 1.2 core schema type of a plain (unquoted, untagged) scalar.
// Null is decided by yaml-cpp (empty, ~, null, Null, NULL) before this.
enum class ScalarKind { kNull, kBool, kInt, kFloat, kString };
[[nodiscard]] ScalarKind classify_plain_scalar(std::string_view text) noexcept;

}  // namespace inferloop::detail
