#pragma once
// A durable FIFO of encoded batches for one sink: append-only segment files in one folder,
// records framed and checksummed as in journal.hpp, and an acknowledgement file holding the
// highest sequence the sink took. Thread-safe.
//
// Files: <dir>/segment-<id>.journal (id increases; only the newest is appended to) and
// <dir>/acked (sequence + CRC, rewritten every few acknowledgements, when a segment goes and
// at close). A sealed segment whose records are all acknowledged is deleted; the newest one
// grows to segment_bytes first. A crash between the sink's Ok and the next rewrite of the
// acknowledgement delivers those batches again after restart: the sink's dedup must make that
// harmless.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace gatherd::core::spool {

struct SpoolOptions {
  std::string dir;                         ///< created (0700) if missing
  std::uint64_t max_bytes = 256ull << 20;  ///< journal bytes at most; the oldest go first
  bool fsync = true;                       ///< fdatasync after every append
  std::uint64_t segment_bytes = 0;         ///< 0: max_bytes / 8, between 64 KiB and 16 MiB
};

/// What open() found.
struct SpoolRecovery {
  std::uint64_t pending = 0;      ///< records not yet acknowledged, to be delivered first
  std::uint64_t bad_regions = 0;  ///< damaged stretches skipped
  std::uint64_t bad_bytes = 0;
  std::uint64_t torn_tail_bytes = 0;  ///< a last write cut short (a crash during append)
  std::vector<std::string> problems;  ///< one line per damaged or unreadable file
};

struct AppendResult {
  bool ok = false;
  std::uint64_t sequence = 0;
  std::string error;                  ///< when !ok (disk full, I/O error)
  std::uint64_t dropped = 0;          ///< unacknowledged records removed to make room
  std::uint64_t dropped_through = 0;  ///< every sequence <= this one is gone when dropped > 0
};

class Spool {
 public:
  explicit Spool(SpoolOptions options);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  /// Creates the folder, scans every segment (skipping damaged records) and reads the
  /// acknowledgement. Never fails on damaged content; throws std::runtime_error only when the
  /// folder cannot be created or listed.
  SpoolRecovery open();
  /// Sequences still to deliver, oldest first.
  std::vector<std::uint64_t> pending() const;
  /// Appends one payload (fsync as configured). Makes room by dropping the oldest segments.
  AppendResult append(std::string_view payload);
  /// Reads a pending record back. False (with a reason) when it is gone or no longer valid.
  bool read(std::uint64_t sequence, std::string& payload, std::string& error) const;
  /// Every record up to `sequence` is delivered: forgets them, deletes whole segments.
  void acknowledge(std::uint64_t sequence);

  std::uint64_t bytes() const;    ///< journal bytes on disk
  std::uint64_t records() const;  ///< records pending
  const SpoolOptions& options() const { return options_; }

 private:
  struct Location {
    std::uint64_t segment = 0;
    std::uint64_t offset = 0;
    std::uint32_t length = 0;  // payload bytes
  };
  struct Segment {
    std::string path;
    int fd = -1;
    std::uint64_t bytes = 0;
    std::uint64_t last_sequence = 0;
    std::uint64_t pending = 0;
  };
  std::string segmentPath(std::uint64_t id) const;
  bool openActiveLocked(std::string& error);
  void dropSegmentLocked(std::uint64_t id);
  void writeAckLocked();

  SpoolOptions options_;
  mutable std::mutex mutex_;
  std::map<std::uint64_t, Segment> segments_;
  std::map<std::uint64_t, Location> index_;
  std::uint64_t next_sequence_ = 1;
  std::uint64_t acked_ = 0;
  std::uint64_t ack_written_ = 0;
  std::uint64_t next_segment_ = 1;
  std::uint64_t active_ = 0;  // 0: none yet
  std::uint64_t total_bytes_ = 0;
  int ack_fd_ = -1;
};

}  // namespace gatherd::core::spool
