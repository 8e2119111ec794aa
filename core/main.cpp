// gatherd: the executable is only this; everything else is in gatherd_core.
#include <csignal>

#include "core/app/application.hpp"

int main(int argc, char** argv) {
  // Before any thread exists, so every thread inherits the mask and only the service loop's
  // sigwait() sees these signals (Poco would otherwise let SIGHUP kill the process).
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal : {SIGINT, SIGTERM, SIGQUIT, SIGHUP}) sigaddset(&signals, signal);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  gatherd::core::Application application;
  return application.run(argc, argv);
}
