#include "core/spool/spool.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "core/spool/journal.hpp"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

namespace gatherd::core::spool {
namespace {

constexpr const char* kPrefix = "segment-";
constexpr const char* kSuffix = ".journal";
// The acknowledgement file is rewritten after this many acknowledgements (and whenever a
// segment is deleted, and at close).
constexpr std::uint64_t kAckEvery = 32;

std::string errnoText(int error) {
  return std::error_code(error, std::generic_category()).message();
}

bool readWhole(int fd, std::string& out) {
  struct stat info {};
  if (::fstat(fd, &info) != 0) return false;
  out.resize(static_cast<std::size_t>(info.st_size));
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return true;
}

bool writeAll(int fd, std::string_view bytes, std::uint64_t offset, int& error) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? errno : ENOSPC;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

void syncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

Spool::Spool(SpoolOptions options) : options_(std::move(options)) {
  if (options_.segment_bytes == 0) {
    options_.segment_bytes =
        std::clamp<std::uint64_t>(options_.max_bytes / 8, 64u << 10, 16u << 20);
  }
}

Spool::~Spool() {
  if (acked_ != ack_written_) writeAckLocked();
  for (auto& [id, segment] : segments_) {
    if (segment.fd >= 0) ::close(segment.fd);
  }
  if (ack_fd_ >= 0) ::close(ack_fd_);
}

std::string Spool::segmentPath(std::uint64_t id) const {
  char name[64];
  std::snprintf(name, sizeof name, "%s%012llu%s", kPrefix, static_cast<unsigned long long>(id),
                kSuffix);
  return options_.dir + "/" + name;
}

SpoolRecovery Spool::open() {
  std::lock_guard lock(mutex_);
  SpoolRecovery recovery;
  std::error_code error;
  if (!std::filesystem::exists(options_.dir, error)) {
    std::filesystem::create_directories(options_.dir, error);
    if (error)
      throw std::runtime_error("spool: cannot create " + options_.dir + ": " + error.message());
    std::filesystem::permissions(options_.dir, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, error);
  }

  const std::string ack_path = options_.dir + "/acked";
  ack_fd_ = ::open(ack_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (ack_fd_ >= 0) {
    std::string bytes;
    if (readWhole(ack_fd_, bytes) && bytes.size() >= 12) {
      std::uint64_t sequence = 0;
      std::uint32_t crc = 0;
      for (int i = 0; i < 8; ++i)
        sequence |= std::uint64_t{static_cast<std::uint8_t>(bytes[static_cast<std::size_t>(i)])}
                    << (8 * i);
      for (int i = 0; i < 4; ++i)
        crc |= std::uint32_t{static_cast<std::uint8_t>(bytes[static_cast<std::size_t>(i) + 8])}
               << (8 * i);
      if (crc == crc32c(std::string_view(bytes).substr(0, 8))) {
        acked_ = sequence;
        ack_written_ = sequence;
      } else {
        recovery.problems.push_back(ack_path +
                                    ": damaged; every record in the journal is delivered again");
      }
    }
  } else {
    recovery.problems.push_back(ack_path + ": cannot open: " + errnoText(errno));
  }

  std::vector<std::pair<std::uint64_t, std::string>> files;
  for (const auto& entry : std::filesystem::directory_iterator(options_.dir, error)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0 ||
        name.size() <= std::string(kPrefix).size() + std::string(kSuffix).size() ||
        name.substr(name.size() - std::string(kSuffix).size()) != kSuffix) {
      continue;
    }
    const std::string digits =
        name.substr(std::string(kPrefix).size(),
                    name.size() - std::string(kPrefix).size() - std::string(kSuffix).size());
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 18) continue;
    files.emplace_back(std::stoull(digits), entry.path().string());
  }
  if (error)
    throw std::runtime_error("spool: cannot list " + options_.dir + ": " + error.message());
  std::sort(files.begin(), files.end());

  std::uint64_t highest = acked_;
  for (const auto& file : files) {
    // Named copies, not a structured binding: the record callback below captures the id.
    const std::uint64_t id = file.first;
    const std::string& path = file.second;
    next_segment_ = std::max(next_segment_, id + 1);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    std::string bytes;
    if (fd < 0 || !readWhole(fd, bytes)) {
      recovery.problems.push_back(path + ": cannot read: " + errnoText(errno) + " (skipped)");
      if (fd >= 0) ::close(fd);
      continue;
    }
    Segment segment;
    segment.path = path;
    segment.fd = fd;
    segment.bytes = bytes.size();
    const JournalScan scan = parseJournal(bytes, [&](const JournalRecord& record) {
      highest = std::max(highest, record.sequence);
      segment.last_sequence = std::max(segment.last_sequence, record.sequence);
      if (record.sequence <= acked_ || index_.count(record.sequence) != 0) return;
      index_[record.sequence] = {id, record.offset,
                                 static_cast<std::uint32_t>(record.payload.size())};
      ++segment.pending;
    });
    recovery.bad_regions += scan.bad_regions;
    recovery.bad_bytes += scan.bad_bytes;
    recovery.torn_tail_bytes += scan.torn_tail_bytes;
    if (scan.bad_regions > 0) {
      recovery.problems.push_back(path + ": skipped " + std::to_string(scan.bad_regions) +
                                  " damaged record(s), " + std::to_string(scan.bad_bytes) +
                                  " bytes");
    }
    if (segment.pending == 0) {
      ::close(fd);
      std::filesystem::remove(path, error);
      continue;
    }
    total_bytes_ += segment.bytes;
    segments_.emplace(id, std::move(segment));
  }
  next_sequence_ = highest + 1;
  recovery.pending = index_.size();
  return recovery;
}

std::vector<std::uint64_t> Spool::pending() const {
  std::lock_guard lock(mutex_);
  std::vector<std::uint64_t> sequences;
  sequences.reserve(index_.size());
  for (const auto& [sequence, location] : index_) sequences.push_back(sequence);
  return sequences;
}

bool Spool::openActiveLocked(std::string& error) {
  const std::uint64_t id = next_segment_++;
  Segment segment;
  segment.path = segmentPath(id);
  segment.fd = ::open(segment.path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (segment.fd < 0) {
    error = "cannot create " + segment.path + ": " + errnoText(errno);
    return false;
  }
  if (options_.fsync) syncDir(options_.dir);
  segments_.emplace(id, std::move(segment));
  active_ = id;
  return true;
}

void Spool::dropSegmentLocked(std::uint64_t id) {
  auto it = segments_.find(id);
  if (it == segments_.end()) return;
  for (auto entry = index_.begin(); entry != index_.end();) {
    entry = entry->second.segment == id ? index_.erase(entry) : std::next(entry);
  }
  if (it->second.fd >= 0) ::close(it->second.fd);
  ::unlink(it->second.path.c_str());
  total_bytes_ -= it->second.bytes;
  if (active_ == id) active_ = 0;
  segments_.erase(it);
}

AppendResult Spool::append(std::string_view payload) {
  std::lock_guard lock(mutex_);
  AppendResult result;
  const std::uint64_t size = kRecordHeaderBytes + payload.size();
  if (payload.size() > kMaxPayloadBytes || size > options_.max_bytes) {
    result.error = "a batch of " + std::to_string(payload.size()) +
                   " bytes does not fit in the spool (spool_max_bytes " +
                   std::to_string(options_.max_bytes) + ")";
    return result;
  }
  if (total_bytes_ + size > options_.max_bytes) {
    active_ = 0;  // seal the newest segment, so that it can go too if it has to
    while (total_bytes_ + size > options_.max_bytes && !segments_.empty()) {
      const auto oldest = segments_.begin();
      result.dropped += oldest->second.pending;
      result.dropped_through = std::max(result.dropped_through, oldest->second.last_sequence);
      dropSegmentLocked(oldest->first);
    }
  }
  if (active_ != 0 && segments_[active_].bytes > 0 &&
      segments_[active_].bytes + size > options_.segment_bytes) {
    active_ = 0;
  }
  if (active_ == 0 && !openActiveLocked(result.error)) return result;
  Segment& segment = segments_[active_];
  const std::uint64_t sequence = next_sequence_;
  std::string header;
  header.reserve(kRecordHeaderBytes);
  appendHeader(header, sequence, payload);
  int error = 0;
  // One system call for header and payload; a short write finishes with plain pwrite.
  iovec parts[2] = {{header.data(), header.size()},
                    {const_cast<char*>(payload.data()), payload.size()}};
  ssize_t first = -1;
  do {
    first = ::pwritev(segment.fd, parts, 2, static_cast<off_t>(segment.bytes));
  } while (first < 0 && errno == EINTR);
  bool written = first >= 0;
  if (!written) error = errno;
  const std::uint64_t done = first > 0 ? static_cast<std::uint64_t>(first) : 0;
  if (written && done < size) {
    std::string record = header;
    record.append(payload);
    written =
        writeAll(segment.fd, std::string_view(record).substr(done), segment.bytes + done, error);
  }
  if (written && options_.fsync && ::fdatasync(segment.fd) != 0) {
    error = errno;
    written = false;
  }
  if (!written) {
    // Leave no partial record behind: the next append starts where this one did.
    if (::ftruncate(segment.fd, static_cast<off_t>(segment.bytes)) != 0) active_ = 0;
    result.error = "cannot write " + segment.path + ": " + errnoText(error);
    return result;
  }
  index_[sequence] = {active_, segment.bytes, static_cast<std::uint32_t>(payload.size())};
  segment.bytes += size;
  segment.last_sequence = sequence;
  ++segment.pending;
  total_bytes_ += size;
  ++next_sequence_;
  result.ok = true;
  result.sequence = sequence;
  return result;
}

bool Spool::read(std::uint64_t sequence, std::string& payload, std::string& error) const {
  std::lock_guard lock(mutex_);
  const auto it = index_.find(sequence);
  if (it == index_.end()) {
    error = "record " + std::to_string(sequence) + " is not in the spool";
    return false;
  }
  const Segment& segment = segments_.at(it->second.segment);
  std::string record(kRecordHeaderBytes + it->second.length, '\0');
  std::size_t done = 0;
  while (done < record.size()) {
    const ssize_t n = ::pread(segment.fd, record.data() + done, record.size() - done,
                              static_cast<off_t>(it->second.offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = segment.path + ": cannot read record " + std::to_string(sequence) + ": " +
              (n < 0 ? errnoText(errno) : std::string("file is shorter"));
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  bool found = false;
  parseJournal(record, [&](const JournalRecord& parsed) {
    if (parsed.sequence == sequence && parsed.offset == 0) {
      payload.assign(parsed.payload);
      found = true;
    }
  });
  if (!found) error = segment.path + ": record " + std::to_string(sequence) + " is damaged";
  return found;
}

void Spool::acknowledge(std::uint64_t sequence) {
  std::lock_guard lock(mutex_);
  if (sequence <= acked_) return;
  acked_ = sequence;
  bool dropped_any = false;
  while (!index_.empty() && index_.begin()->first <= sequence) {
    auto segment = segments_.find(index_.begin()->second.segment);
    if (segment != segments_.end() && segment->second.pending > 0) --segment->second.pending;
    index_.erase(index_.begin());
  }
  for (auto it = segments_.begin(); it != segments_.end();) {
    Segment& segment = it->second;
    if (segment.pending != 0) {
      ++it;
      continue;
    }
    if (it->first == active_) {
      // The newest segment keeps growing up to segment_bytes (its acknowledged records are
      // skipped after a restart); once full it is sealed and goes with the next
      // acknowledgement.
      if (segment.bytes + kRecordHeaderBytes > options_.segment_bytes) {
        active_ = 0;
      } else {
        ++it;
        continue;
      }
    }
    const std::uint64_t id = it->first;
    ++it;
    dropSegmentLocked(id);
    dropped_any = true;
  }
  // Written now and then, not per batch: a crash delivers at most that many batches again.
  if (dropped_any || acked_ - ack_written_ >= kAckEvery) writeAckLocked();
}

void Spool::writeAckLocked() {
  if (ack_fd_ < 0) return;
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((acked_ >> (8 * i)) & 0xff));
  const std::uint32_t crc = crc32c(bytes);
  for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  int error = 0;
  // Not synced: losing it after a crash only delivers some batches a second time.
  if (writeAll(ack_fd_, bytes, 0, error)) ack_written_ = acked_;
}

std::uint64_t Spool::bytes() const {
  std::lock_guard lock(mutex_);
  return total_bytes_;
}

std::uint64_t Spool::records() const {
  std::lock_guard lock(mutex_);
  return index_.size();
}

}  // namespace gatherd::core::spool
