#pragma once
// Read connections for Store queries: Store methods run on HTTP and SSE threads while the
// writer thread writes, and a SQLite connection must not be shared between threads.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "connection.hpp"

namespace gatherd::plugins::sqlite {

class ReaderPool {
 public:
  /// Opens connections lazily, at most `size` at once; callers beyond that wait for one.
  /// `pragmas` run on each new connection (cache and mmap sizes).
  ReaderPool(std::string path, int size, std::string pragmas = {});
  ~ReaderPool();

  /// A connection borrowed for one query; returned to the pool on destruction.
  class Lease {
   public:
    Lease(ReaderPool& pool, std::unique_ptr<Connection> connection)
        : pool_(pool), connection_(std::move(connection)) {}
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection& operator*() const { return *connection_; }
    Connection* operator->() const { return connection_.get(); }

   private:
    ReaderPool& pool_;
    std::unique_ptr<Connection> connection_;
  };

  /// Throws SqliteError (or Poco::Exception) when a new connection cannot be opened.
  Lease acquire();
  /// Closes idle connections; leases still out are closed when they come back.
  void close();

 private:
  void release(std::unique_ptr<Connection> connection);

  const std::string path_;
  const std::string pragmas_;
  const int size_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;
  bool closed_ = false;
};

}  // namespace gatherd::plugins::sqlite
