#include "gatherd_process.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace gatherd::testing {

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

namespace {

std::vector<std::string> gatherdArgv(const std::filesystem::path& config,
                                     const std::vector<std::string>& args) {
  std::vector<std::string> argv = {GATHERD_BIN, "--config", config.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

}  // namespace

GatherdProcess::GatherdProcess(const std::filesystem::path& config, std::vector<std::string> args,
                               std::vector<std::string> environment)
    : ChildProcess(gatherdArgv(config, args), config.parent_path(), std::move(environment)) {}

ChildProcess::ChildProcess(std::vector<std::string> argv_text, const std::filesystem::path& dir,
                           std::vector<std::string> environment) {
  out_path_ = dir / ("out-" + std::to_string(reinterpret_cast<std::uintptr_t>(this)) + ".txt");
  err_path_ = dir / ("err-" + std::to_string(reinterpret_cast<std::uintptr_t>(this)) + ".txt");
  // A process made in a loop gets the same address and so the same names: what the last one
  // wrote must not answer this one's waitForLog().
  std::error_code ignored;
  std::filesystem::remove(out_path_, ignored);
  std::filesystem::remove(err_path_, ignored);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    const int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(out, 1);
    ::dup2(err, 2);
    for (const auto& variable : environment) ::putenv(const_cast<char*>(variable.c_str()));
    std::vector<char*> argv;
    for (auto& arg : argv_text) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(5));
  }
}

void ChildProcess::signal(int number) const {
  ::kill(pid_, number);
}

bool ChildProcess::running() {
  if (pid_ < 0 || exit_code_ >= 0) return false;
  return wait(std::chrono::milliseconds(0)) < 0;
}

int ChildProcess::wait(std::chrono::milliseconds timeout) {
  if (exit_code_ >= 0) return exit_code_;
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= until) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool ChildProcess::waitForLog(const std::string& text, std::chrono::milliseconds timeout) const {
  return waitFor(
      err_path_, [&](const std::string& log) { return log.find(text) != std::string::npos; },
      timeout);
}

std::string printedPort(const ChildProcess& fake_upstream) {
  const auto line_printed = [](const std::string& text) {
    return text.find('\n') != std::string::npos;
  };
  if (!ChildProcess::waitFor(fake_upstream.outPath(), line_printed, std::chrono::seconds(10))) {
    throw std::runtime_error("the fake upstream printed no port within 10 s: " +
                             fake_upstream.out() + fake_upstream.err());
  }
  const std::string out = fake_upstream.out();
  return out.substr(0, out.find('\n'));
}

std::string baseConfig(const std::filesystem::path& dir, const std::string& interval) {
  return "[gatherd]\ninterval = " + interval +
         "\ntimeout = 5s\nmax_parallel = 6\nplugin_dir = " + std::string(GATHERD_PLUGIN_DIR) +
         "\ndata_dir = " + (dir / "data").string() +
         "\nlog_level = info\n\n[http]\nbind = 127.0.0.1:0\nweb_root = " + (dir / "web").string() +
         "\n\n";
}

}  // namespace gatherd::testing
