// Detection of API misuse where it is cheap: checks that cost an atomic
// operation or a branch on a hot path run only in builds with
// INFERLOOP_DEBUG_CHECKS (by default: builds without NDEBUG; the CMake
// option INFERLOOP_DEBUG_CHECKS=ON forces them on, as the sanitizer trees
// of scripts/test do). A failed check is a bug in the calling program, not
// bad input: it prints what was misused and how to fix it, then aborts, like
// an assertion.
#pragma once

#include <string_view>

#ifndef INFERLOOP_DEBUG_CHECKS
#ifdef NDEBUG
#define INFERLOOP_DEBUG_CHECKS 0
#else
#define INFERLOOP_DEBUG_CHECKS 1
#endif
#endif

namespace inferloop::detail {

// Writes "inferloop: API misuse: <message>" to stderr and aborts.
[[noreturn]] void misuse_abort(std::string_view message) noexcept;

}  // namespace inferloop::detail
