// See thread_name.hpp.
#include "loop/thread_name.hpp"

#include <pthread.h>
#include <sched.h>

#include <cstring>

#include "inferloop/error.hpp"

namespace inferloop::detail {

void name_this_thread(const std::string& name) noexcept {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

void pin_thread(std::thread& thread, int cpu, const std::string& what) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  const int status = pthread_setaffinity_np(thread.native_handle(), sizeof set, &set);
  if (status != 0) {
    throw Error(what + ": cannot pin the thread to CPU " + std::to_string(cpu) + ": " +
                std::strerror(status) + "; name a CPU this process may run on (see `taskset -p " +
                "<pid>` or `nproc`)");
  }
}

}  // namespace inferloop::detail
