// Names the calling thread for ps/top/gdb ("inferloop-poll", "inferloop-r3"),
// and pins it to a CPU when the config asks (Linux).
#pragma once

#include <string>
#include <thread>

namespace inferloop::detail {

// Linux keeps at most 15 characters.
void name_this_thread(const std::string& name) noexcept;

// Pins `thread` to `cpu` (>= 0); throws inferloop::Error naming `what`
// (the config key, e.g. "poller_cpu") when the system refuses.
void pin_thread(std::thread& thread, int cpu, const std::string& what);

}  // namespace inferloop::detail
