#pragma once
// The spool's on-disk record format and its reader. A journal segment is a sequence of records:
//
//   magic "GSR1" (4 bytes) | payload length (u32 LE) | sequence (u64 LE) | CRC-32C (u32 LE) |
//   payload
//
// The CRC (CRC-32C) covers the sequence and the payload. A reader that meets a damaged record (bad
// magic, impossible length, wrong CRC) skips forward to the next valid record: one bad record never
// hides the records after it, and never stops start-up.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace gatherd::core::spool {

inline constexpr std::size_t kRecordHeaderBytes = 20;
/// No batch comes near this; a length above it is damage.
inline constexpr std::uint32_t kMaxPayloadBytes = 64u << 20;

/// CRC-32C (Castagnoli), continuing from `crc`; SSE 4.2 when the CPU has it.
std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc = 0);

/// Appends only the header of a record (kRecordHeaderBytes) for `payload` to `out`.
void appendHeader(std::string& out, std::uint64_t sequence, std::string_view payload);
/// Appends one framed record to `out`.
void appendRecord(std::string& out, std::uint64_t sequence, std::string_view payload);

struct JournalRecord {
  std::uint64_t sequence = 0;
  std::size_t offset = 0;  ///< where the record's header starts in the buffer
  std::string_view payload;
};

struct JournalScan {
  std::uint64_t records = 0;          ///< valid records found
  std::uint64_t bad_regions = 0;      ///< damaged stretches skipped (each one or more records)
  std::uint64_t bad_bytes = 0;        ///< bytes in those stretches
  std::uint64_t torn_tail_bytes = 0;  ///< an incomplete last record (a write cut short)
  std::size_t valid_end = 0;          ///< end of the last valid record
};

/// Parses a whole journal segment held in memory and calls `on_record` for each valid record,
/// in file order. Never throws on bad input (the libFuzzer target calls exactly this).
JournalScan parseJournal(std::string_view bytes,
                         const std::function<void(const JournalRecord&)>& on_record);

}  // namespace gatherd::core::spool
