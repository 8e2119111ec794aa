#include "core/spool/journal.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace gatherd::core::spool {
namespace {

constexpr char kMagic[4] = {'G', 'S', 'R', '1'};

void putU32(std::string& out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}
void putU64(std::string& out, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}
std::uint64_t getLe(std::string_view bytes, std::size_t at, int width) {
  std::uint64_t value = 0;
  for (int i = 0; i < width; ++i) {
    value |= std::uint64_t{static_cast<std::uint8_t>(bytes[at + static_cast<std::size_t>(i)])}
             << (8 * i);
  }
  return value;
}

std::uint32_t recordCrc(std::string_view sequence_bytes, std::string_view payload) {
  return crc32c(payload, crc32c(sequence_bytes));
}

enum class Check { kValid, kTorn, kBad };

// Whether a valid record starts at `at`; a record that runs past the end is torn.
Check checkAt(std::string_view bytes, std::size_t at, JournalRecord& record, std::size_t& size) {
  const std::size_t left = bytes.size() - at;
  if (left < 4) return std::memcmp(bytes.data() + at, kMagic, left) == 0 ? Check::kTorn : Check::kBad;
  if (std::memcmp(bytes.data() + at, kMagic, 4) != 0) return Check::kBad;
  if (left < kRecordHeaderBytes) return Check::kTorn;
  const auto length = static_cast<std::uint32_t>(getLe(bytes, at + 4, 4));
  if (length > kMaxPayloadBytes) return Check::kBad;
  if (left - kRecordHeaderBytes < length) return Check::kTorn;
  const std::string_view payload = bytes.substr(at + kRecordHeaderBytes, length);
  const auto crc = static_cast<std::uint32_t>(getLe(bytes, at + 16, 4));
  if (crc != recordCrc(bytes.substr(at + 8, 8), payload)) return Check::kBad;
  record.sequence = getLe(bytes, at + 8, 8);
  record.offset = at;
  record.payload = payload;
  size = kRecordHeaderBytes + length;
  return Check::kValid;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32cHardware(std::string_view bytes,
                                                               std::uint32_t crc) {
  std::uint64_t c = ~crc;
  const char* p = bytes.data();
  std::size_t n = bytes.size();
  for (; n >= 8; n -= 8, p += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, p, 8);
    c = __builtin_ia32_crc32di(c, word);
  }
  auto c32 = static_cast<std::uint32_t>(c);
  for (; n > 0; --n, ++p) c32 = __builtin_ia32_crc32qi(c32, static_cast<unsigned char>(*p));
  return ~c32;
}
#endif

std::uint32_t crc32cSoftware(std::string_view bytes, std::uint32_t crc) {
  static const auto kTable = [] {
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? 0x82F63B78u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    return table;
  }();
  crc = ~crc;
  for (char byte : bytes) crc = kTable[(crc ^ static_cast<std::uint8_t>(byte)) & 0xff] ^ (crc >> 8);
  return ~crc;
}

}  // namespace

std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc) {
#if defined(__x86_64__)
  static const bool kHardware = __builtin_cpu_supports("sse4.2");
  if (kHardware) return crc32cHardware(bytes, crc);
#endif
  return crc32cSoftware(bytes, crc);
}

void appendHeader(std::string& out, std::uint64_t sequence, std::string_view payload) {
  out.append(kMagic, 4);
  putU32(out, static_cast<std::uint32_t>(payload.size()));
  const std::size_t sequence_at = out.size();
  putU64(out, sequence);
  putU32(out, recordCrc(std::string_view(out).substr(sequence_at, 8), payload));
}

void appendRecord(std::string& out, std::uint64_t sequence, std::string_view payload) {
  appendHeader(out, sequence, payload);
  out.append(payload);
}

JournalScan parseJournal(std::string_view bytes,
                         const std::function<void(const JournalRecord&)>& on_record) {
  JournalScan scan;
  std::size_t at = 0;
  std::size_t bad_from = 0;
  bool in_bad = false;
  auto endBad = [&](std::size_t end) {
    if (!in_bad) return;
    ++scan.bad_regions;
    scan.bad_bytes += end - bad_from;
    in_bad = false;
  };
  while (at < bytes.size()) {
    JournalRecord record;
    std::size_t size = 0;
    const Check check = checkAt(bytes, at, record, size);
    if (check == Check::kValid) {
      endBad(at);
      ++scan.records;
      if (on_record) on_record(record);
      at += size;
      scan.valid_end = at;
      continue;
    }
    if (check == Check::kTorn && !in_bad) {
      // Only a cut-short last record: whatever follows cannot be a record either (it would
      // have to start inside this one), so the rest is the torn tail.
      bool later_valid = false;
      for (std::size_t next = at + 1; next + kRecordHeaderBytes <= bytes.size(); ++next) {
        JournalRecord probe;
        std::size_t probe_size = 0;
        if (bytes[next] == 'G' && checkAt(bytes, next, probe, probe_size) == Check::kValid) {
          later_valid = true;
          break;
        }
      }
      if (!later_valid) {
        scan.torn_tail_bytes = bytes.size() - at;
        return scan;
      }
    }
    if (!in_bad) {
      in_bad = true;
      bad_from = at;
    }
    ++at;
    // Resynchronise on the next magic.
    while (at < bytes.size() && bytes[at] != 'G') ++at;
  }
  endBad(bytes.size());
  return scan;
}

}  // namespace gatherd::core::spool
