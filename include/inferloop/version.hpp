#pragma once

#define INFERLOOP_VERSION_MAJOR 0
#define INFERLOOP_VERSION_MINOR 1
#define INFERLOOP_VERSION_PATCH 0

namespace inferloop {
inline constexpr const char* kVersion = "0.1.0";
}  // namespace inferloop
