#include "reader_pool.hpp"

#include <sqlite3.h>

namespace gatherd::plugins::sqlite {
namespace {
// Readers never wait for the writer in WAL mode; a short wait covers WAL recovery only.
constexpr std::int64_t kReaderBusyTimeoutMs = 2'000;
}  // namespace

ReaderPool::ReaderPool(std::string path, int size, std::string pragmas)
    : path_(std::move(path)), pragmas_(std::move(pragmas)), size_(size) {}

ReaderPool::~ReaderPool() {
  close();
}

ReaderPool::Lease::~Lease() {
  pool_.release(std::move(connection_));
}

ReaderPool::Lease ReaderPool::acquire() {
  std::unique_lock lock(mutex_);
  available_.wait(lock, [&] { return closed_ || !idle_.empty() || open_ < size_; });
  if (closed_) throw SqliteError(SQLITE_MISUSE, "the store is stopped");
  if (!idle_.empty()) {
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    return Lease(*this, std::move(connection));
  }
  ++open_;
  lock.unlock();
  try {
    auto connection = std::make_unique<Connection>(path_, kReaderBusyTimeoutMs);
    connection->exec("PRAGMA query_only = ON; " + pragmas_);
    return Lease(*this, std::move(connection));
  } catch (...) {
    std::lock_guard relock(mutex_);
    --open_;
    available_.notify_one();
    throw;
  }
}

void ReaderPool::release(std::unique_ptr<Connection> connection) {
  if (!connection) return;
  connection->resetStatements();
  std::lock_guard lock(mutex_);
  if (closed_) {
    --open_;
    connection.reset();
  } else {
    idle_.push_back(std::move(connection));
  }
  available_.notify_one();
}

void ReaderPool::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  open_ -= static_cast<int>(idle_.size());
  idle_.clear();
  available_.notify_all();
}

}  // namespace gatherd::plugins::sqlite
