// libFuzzer target: the spool's reader, what gatherd runs on whatever a crash, a full disk or
// a bad sector left in data_dir/spool at start-up. The journal parser must stay inside the
// buffer and account for every byte; the batch decoder must reject or accept without reading
// out of bounds, and what it accepts must encode back to a batch that decodes the same.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/spool/batch_codec.hpp"
#include "core/spool/journal.hpp"

namespace {

using gatherd::core::spool::decodeBatch;
using gatherd::core::spool::encodeBatch;

void check(bool holds) {
  if (!holds) std::abort();
}

void decodeAndRoundTrip(std::string_view bytes) {
  gatherd::sdk::Batch batch;
  if (!decodeBatch(bytes, batch)) return;
  std::string encoded;
  encodeBatch(batch, encoded);
  gatherd::sdk::Batch again;
  check(decodeBatch(encoded, again));
  std::string reencoded;
  encodeBatch(again, reencoded);
  check(reencoded == encoded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::uint64_t seen = 0;
  std::size_t covered = 0;
  const auto scan = gatherd::core::spool::parseJournal(
      bytes, [&](const gatherd::core::spool::JournalRecord& record) {
        ++seen;
        check(record.offset + gatherd::core::spool::kRecordHeaderBytes + record.payload.size() <=
              size);
        check(record.payload.data() ==
              bytes.data() + record.offset + gatherd::core::spool::kRecordHeaderBytes);
        covered += gatherd::core::spool::kRecordHeaderBytes + record.payload.size();
        decodeAndRoundTrip(record.payload);
      });
  check(scan.records == seen);
  check(scan.valid_end <= size);
  check(covered + scan.bad_bytes + scan.torn_tail_bytes <= size);
  // Most mutations break the CRC: the decoder gets the raw bytes too.
  decodeAndRoundTrip(bytes);
  return 0;
}
