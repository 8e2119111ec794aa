#pragma once
// Names the calling thread: shown in /proc/PID/task/*/comm, top -H, gdb and perf, so each of
// gatherd's threads can be told apart (Linux keeps 15 bytes of the name).

#include <string>

#include <pthread.h>

namespace gatherd::core {

inline void nameThisThread(const std::string& name) {
  ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace gatherd::core
