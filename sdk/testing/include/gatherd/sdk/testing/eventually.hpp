#pragma once
// Waiting for something another thread or process does, bounded: the one waiting loop of
// gatherd's tests (a test asserts on the result; it never measures time).

#include <chrono>
#include <thread>

namespace gatherd::sdk::testing {

/// Calls `predicate` every `step` until it holds or `timeout` has passed; returns whether it held
/// (it is called once more at the end, so a slow machine only ever costs time).
template <class Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout = std::chrono::seconds(5),
                std::chrono::milliseconds step = std::chrono::milliseconds(10)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (predicate()) return true;
    std::this_thread::sleep_for(step);
  }
  return static_cast<bool>(predicate());
}

}  // namespace gatherd::sdk::testing
