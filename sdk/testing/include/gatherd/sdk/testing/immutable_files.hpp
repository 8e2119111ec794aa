#pragma once
// Makes files unwritable while a process still has them open, for testing how a sink handles a
// store it can no longer write: the immutable flag (chattr +i). A read-only remount cannot do it
// (the kernel refuses, "busy", while a file is open for writing, bind mounts too), nor chmod (it
// is checked at open only), nor `blockdev --setro` under a mounted loop device (the kernel only
// warns, the writes go through); writes through descriptors opened before the flag was set fail
// with EPERM (Linux 5.4 and later; ext4, xfs, btrfs, and tmpfs since 6.0). Setting the flag needs
// CAP_LINUX_IMMUTABLE (root): where it is refused, `error()` says why and nothing is changed.
// The ioctl needs a descriptor, and closing it drops the POSIX locks this process holds on the
// file: harmless when the code under test runs in another process or alone with the file.

#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace gatherd::sdk::testing {

class ImmutableFiles {
 public:
  /// Sets the flag on each of `files`; on the first failure the others are cleared again.
  explicit ImmutableFiles(std::vector<std::filesystem::path> files) {
    for (const auto& file : files) {
      if (const int code = setImmutable(file, true); code != 0) {
        error_ = file.string() + ": " + std::error_code(code, std::generic_category()).message();
        release();
        return;
      }
      files_.push_back(file);
    }
  }
  /// Clears the flag (an immutable file cannot even be removed, so a test folder needs this).
  ~ImmutableFiles() { release(); }
  ImmutableFiles(const ImmutableFiles&) = delete;
  ImmutableFiles& operator=(const ImmutableFiles&) = delete;

  /// Empty when every file is immutable now.
  const std::string& error() const noexcept { return error_; }
  /// Makes the files writable again.
  void release() noexcept {
    for (const auto& file : files_) setImmutable(file, false);
    files_.clear();
  }

 private:
  /// 0 or the errno.
  static int setImmutable(const std::filesystem::path& file, bool on) noexcept {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return errno;
    int flags = 0;  // the kernel reads and writes an int, whatever the ioctl's declared type
    int code = 0;
    if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) {
      code = errno;
    } else {
      flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
      if (::ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0) code = errno;
    }
    ::close(fd);
    return code;
  }

  std::vector<std::filesystem::path> files_;
  std::string error_;
};

}  // namespace gatherd::sdk::testing
