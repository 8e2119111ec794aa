#pragma once
// A throwaway PostgreSQL cluster for tests and benchmarks: initdb + pg_ctl in a temp folder,
// listening on 127.0.0.1 at a free port, run as the "postgres" user when the caller is root
// (the server refuses root; CI runs as root). Stopped and removed on destruction.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gatherd/sdk/testing/temp_dir.hpp"
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace gatherd::pgtest {

class PostgresCluster {
 public:
  /// `bindir` holds initdb and pg_ctl; `options` are extra server settings (-c name=value ...).
  explicit PostgresCluster(std::string bindir, std::string options =
                                                   "-c fsync=off -c full_page_writes=off "
                                                   "-c synchronous_commit=off")
      : bindir_(std::move(bindir)), options_(std::move(options)), dir_(temp_.path().string()) {
    if (::geteuid() == 0) {
      const passwd* user = ::getpwnam("postgres");
      if (user == nullptr) {
        problem_ = "running as root and there is no 'postgres' user to run the server as";
        return;
      }
      if (::chown(dir_.c_str(), user->pw_uid, user->pw_gid) != 0) {
        problem_ = "cannot hand " + dir_ + " to the postgres user";
        return;
      }
      as_user_ = "runuser -u postgres -- ";
    }
    port_ = freePort();
    if (!shell(bindir_ + "/initdb -D " + dir_ +
               "/data -U gatherd -A trust --no-sync -E UTF8 "
               "--locale=C.UTF-8 --no-instructions")) {
      problem_ = "initdb failed: " + log();
      return;
    }
    if (!start()) problem_ = "pg_ctl start failed: " + log();
  }
  /// Stops the server; the folder goes with temp_ after it.
  ~PostgresCluster() {
    if (running_) stop("immediate");
  }
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  bool ok() const { return problem_.empty(); }
  const std::string& problem() const { return problem_; }
  int port() const { return port_; }
  /// A libpq connection string for database `database` as the cluster's superuser.
  std::string conninfo(const std::string& database = "postgres") const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " user=gatherd dbname=" + database +
           " connect_timeout=5";
  }
  /// Stops the server (mode fast, smart or immediate); the data stays for start().
  bool stop(const std::string& mode = "fast") {
    running_ = false;
    return shell(bindir_ + "/pg_ctl -D " + dir_ + "/data -m " + mode + " -w stop");
  }
  /// Starts it again on the same port.
  bool start() {
    const std::string server_options = "-p " + std::to_string(port_) + " -k " + dir_ +
                                       " -c listen_addresses=127.0.0.1 " + options_;
    running_ = shell(bindir_ + "/pg_ctl -D " + dir_ + "/data -l " + dir_ + "/server.log -w -o '" +
                     server_options + "' start");
    return running_;
  }
  /// Runs SQL with psql; true when it succeeded.
  bool psql(const std::string& sql, const std::string& database = "postgres") {
    std::ofstream(dir_ + "/input.sql") << sql;
    return shell(bindir_ + "/psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p " +
                 std::to_string(port_) + " -U gatherd -d " + database + " -f " + dir_ +
                 "/input.sql");
  }
  /// Runs one query with psql and returns its unaligned output (one line per row, columns
  /// separated by '|', no header), or "ERROR: " and psql's message when it failed.
  std::string query(const std::string& sql, const std::string& database = "postgres") {
    std::ofstream(dir_ + "/query.sql") << sql;
    const std::string output = dir_ + "/query.out";
    const bool ok = shell(bindir_ + "/psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p " +
                          std::to_string(port_) + " -U gatherd -d " + database + " -f " + dir_ +
                          "/query.sql -o " + output);
    std::ifstream in(output);
    std::stringstream buffer;
    buffer << in.rdbuf();
    std::string text = buffer.str();
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return ok ? text : "ERROR: " + log();
  }
  /// The folder of psql, pg_ctl and initdb.
  const std::string& bindir() const { return bindir_; }
  /// The tail of the server's and the tools' output, for failure messages.
  std::string log() const {
    std::string text;
    for (const char* name : {"/tools.log", "/server.log"}) {
      std::ifstream in(dir_ + name);
      std::stringstream buffer;
      buffer << in.rdbuf();
      std::string part = buffer.str();
      if (part.size() > 2000) part = part.substr(part.size() - 2000);
      text += part;
    }
    return text;
  }

 private:
  bool shell(const std::string& command) {
    const std::string line = as_user_ + command + " >>" + dir_ + "/tools.log 2>&1";
    return std::system(line.c_str()) == 0;
  }
  static int freePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t size = sizeof address;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
      port = ntohs(address.sin_port);
    }
    ::close(fd);
    return port;
  }

  std::string bindir_;
  std::string options_;
  sdk::testing::TempDir temp_{"gatherd-pg"};  // before dir_, which is its path
  std::string dir_;
  std::string as_user_;
  std::string problem_;
  int port_ = 0;
  bool running_ = false;
};

}  // namespace gatherd::pgtest
