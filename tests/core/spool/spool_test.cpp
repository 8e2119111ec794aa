#include "core/spool/spool.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "core/pipeline/pipeline.hpp"
#include "core/spool/batch_codec.hpp"
#include "core/spool/journal.hpp"
#include "gatherd/sdk/testing/eventually.hpp"
#include "gatherd/sdk/testing/manual_clock.hpp"
#include "gatherd/sdk/testing/temp_dir.hpp"
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using namespace gatherd::core::spool;
using gatherd::core::Pipeline;
using gatherd::core::SinkChannelOptions;
using gatherd::sdk::Batch;
using gatherd::sdk::WriteResult;

Batch makeBatch(int index) {
  Batch batch;
  batch.window.source = "src";
  batch.window.window_ms = 1'772'000'000'000 + std::int64_t{index} * 10'000;
  batch.window.outcome =
      index % 2 == 0 ? gatherd::sdk::Outcome::kOk : gatherd::sdk::Outcome::kHttpError;
  batch.window.message = "message " + std::to_string(index);
  batch.window.gap_suspected = index % 3 == 0;
  for (int r = 0; r < index % 4; ++r) {
    gatherd::sdk::Record record;
    record.stream = "invocation";
    record.key = "k" + std::to_string(index) + "-" + std::to_string(r);
    record.time_ms = batch.window.window_ms + r;
    record.raw_json = "{\"x\":" + std::to_string(r) + "}";
    record.fields["model"] = std::string("gpt");
    record.fields["tokens"] = std::int64_t{index * 100 + r};
    record.fields["cost"] = 0.25 * r;
    record.fields["stream"] = r % 2 == 0;
    record.fields["none"] = std::monostate{};
    batch.records.push_back(std::move(record));
  }
  return batch;
}

std::string encoded(int index) {
  std::string out;
  encodeBatch(makeBatch(index), out);
  return out;
}

int indexOf(const Batch& batch) {
  return static_cast<int>((batch.window.window_ms - 1'772'000'000'000) / 10'000);
}

std::vector<std::string> segments(const std::string& dir) {
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".journal") found.push_back(entry.path().string());
  }
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace

TEST_CASE("a batch survives encode and decode unchanged", "[spool][codec]") {
  for (int index = 0; index < 8; ++index) {
    Batch decoded;
    REQUIRE(decodeBatch(encoded(index), decoded));
    const Batch original = makeBatch(index);
    CHECK(decoded.window.source == original.window.source);
    CHECK(decoded.window.window_ms == original.window.window_ms);
    CHECK(decoded.window.outcome == original.window.outcome);
    CHECK(decoded.window.message == original.window.message);
    CHECK(decoded.window.gap_suspected == original.window.gap_suspected);
    REQUIRE(decoded.records.size() == original.records.size());
    for (std::size_t r = 0; r < decoded.records.size(); ++r) {
      CHECK(decoded.records[r].key == original.records[r].key);
      CHECK(decoded.records[r].raw_json == original.records[r].raw_json);
      CHECK(decoded.records[r].fields == original.records[r].fields);
    }
  }
}

TEST_CASE("decoding refuses cut or altered bytes", "[spool][codec]") {
  const std::string bytes = encoded(3);
  for (std::size_t size = 0; size < bytes.size(); ++size) {
    Batch batch;
    CHECK_FALSE(decodeBatch(std::string_view(bytes).substr(0, size), batch));
  }
  std::string longer = bytes + "x";
  Batch batch;
  CHECK_FALSE(decodeBatch(longer, batch));
}

TEST_CASE("the record checksum is CRC-32C", "[spool][journal]") {
  CHECK(crc32c("123456789") == 0xE3069283u);
  CHECK(crc32c("56789", crc32c("1234")) == 0xE3069283u);
  // Against the bitwise definition, at every length around the three-stream blocks (3 x 256 and
  // 3 x 2048 bytes) and unaligned, continued from a running CRC.
  auto reference = [](std::string_view bytes, std::uint32_t crc) {
    crc = ~crc;
    for (const char byte : bytes) {
      crc ^= static_cast<std::uint8_t>(byte);
      for (int k = 0; k < 8; ++k) crc = (crc & 1) != 0 ? 0x82F63B78u ^ (crc >> 1) : crc >> 1;
    }
    return ~crc;
  };
  std::string data(3 * 2048 * 3 + 64, '\0');
  std::uint32_t state = 12345;
  for (char& byte : data) byte = static_cast<char>((state = state * 1103515245u + 12345u) >> 24);
  std::vector<std::size_t> lengths;
  for (std::size_t n = 0; n < 800; ++n) lengths.push_back(n);
  for (std::size_t base : {3 * 2048, 2 * 3 * 2048, 3 * 2048 + 3 * 256, 16128}) {
    for (std::size_t n = base - 9; n <= base + 9; ++n) lengths.push_back(n);
  }
  for (const std::size_t length : lengths) {
    for (const std::size_t offset : {0, 3}) {
      const std::string_view piece = std::string_view(data).substr(offset, length);
      INFO("length " << length << ", offset " << offset);
      REQUIRE(crc32c(piece) == reference(piece, 0));
      REQUIRE(crc32c(piece, 0xDEADBEEFu) == reference(piece, 0xDEADBEEFu));
    }
  }
}

TEST_CASE("the journal reader skips a damaged record and keeps the rest", "[spool][journal]") {
  std::string journal;
  for (std::uint64_t seq = 1; seq <= 5; ++seq)
    appendRecord(journal, seq, "payload-" + std::to_string(seq));
  const std::size_t record_size = kRecordHeaderBytes + std::string("payload-1").size();
  journal[2 * record_size + kRecordHeaderBytes + 2] ^= 0x55;  // the payload of record 3
  std::vector<std::uint64_t> seen;
  const JournalScan scan =
      parseJournal(journal, [&](const JournalRecord& r) { seen.push_back(r.sequence); });
  CHECK(seen == std::vector<std::uint64_t>{1, 2, 4, 5});
  CHECK(scan.bad_regions == 1);
  CHECK(scan.bad_bytes == record_size);
  CHECK(scan.torn_tail_bytes == 0);

  // A last record cut short by a crash is a torn tail, not damage.
  std::string torn = journal.substr(0, journal.size() - 3);
  seen.clear();
  const JournalScan torn_scan =
      parseJournal(torn, [&](const JournalRecord& r) { seen.push_back(r.sequence); });
  CHECK(seen == std::vector<std::uint64_t>{1, 2, 4});
  CHECK(torn_scan.torn_tail_bytes == record_size - 3);

  // Garbage of any kind never throws.
  std::string garbage(4096, 'G');
  CHECK(parseJournal(garbage, {}).records == 0);
}

TEST_CASE("the spool keeps what was not acknowledged across a reopen", "[spool]") {
  gatherd::sdk::testing::TempDir dir("gatherd-spool");
  SpoolOptions options{dir.path().string(), 1u << 20, true, 0};
  {
    Spool spool(options);
    spool.open();
    for (int i = 1; i <= 5; ++i) REQUIRE(spool.append("p" + std::to_string(i)).ok);
    spool.acknowledge(2);
    CHECK(spool.records() == 3);
  }
  Spool again(options);
  const SpoolRecovery recovery = again.open();
  CHECK(recovery.pending == 3);
  CHECK(recovery.bad_regions == 0);
  CHECK(again.pending() == std::vector<std::uint64_t>{3, 4, 5});
  std::string payload, error;
  REQUIRE(again.read(4, payload, error));
  CHECK(payload == "p4");
  const auto appended = again.append("p6");
  REQUIRE(appended.ok);
  CHECK(appended.sequence == 6);
  again.acknowledge(6);
  CHECK(again.records() == 0);
  CHECK(again.bytes() < (1u << 20));  // the newest segment is reused until it is full
}

TEST_CASE("a full spool drops its oldest segment, counted", "[spool]") {
  gatherd::sdk::testing::TempDir dir("gatherd-spool");
  const std::string payload(1000, 'x');
  Spool spool(SpoolOptions{dir.path().string(), 64u << 10, false, 16u << 10});
  spool.open();
  std::uint64_t dropped = 0, through = 0;
  for (int i = 0; i < 200; ++i) {
    const auto result = spool.append(payload);
    REQUIRE(result.ok);
    dropped += result.dropped;
    through = std::max(through, result.dropped_through);
  }
  CHECK(spool.bytes() <= (64u << 10));
  CHECK(dropped > 0);
  CHECK(spool.records() + dropped == 200);
  CHECK(spool.pending().front() == through + 1);
}

TEST_CASE(
    "a spooled sink gets the last run's batches first, in order, and a damaged one is "
    "skipped and counted",
    "[spool][pipeline]") {
  gatherd::sdk::testing::TempDir dir("gatherd-spool");
  gatherd::sdk::testing::ManualClock clock;
  SinkChannelOptions options;
  options.spool = SpoolOptions{dir.path().string(), 1u << 20, true, 0};
  {
    // First run: the sink refuses everything; the batches stay in the journal.
    Pipeline pipeline(clock);
    pipeline.addSink(
        "store", [](const Batch&) { return WriteResult::kRetry; }, options);
    for (int i = 0; i < 6; ++i) pipeline.publish(std::make_shared<const Batch>(makeBatch(i)));
    pipeline.start();
    pipeline.stop(0);
    CHECK(pipeline.stats("store").spool_records == 6);
  }
  // Damage the third record on disk.
  const auto files = segments(dir.path().string());
  REQUIRE(files.size() == 1);
  {
    std::fstream file(files[0], std::ios::in | std::ios::out | std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(file)), {});
    std::size_t at = 0;
    for (int record = 0; record < 2; ++record) at = bytes.find("GSR1", at + 1);
    file.seekp(static_cast<std::streamoff>(at + kRecordHeaderBytes + 4));
    file.put('\x7f');
  }

  std::mutex mutex;
  std::vector<int> received;
  std::vector<std::string> events;
  Pipeline pipeline(clock);
  pipeline.setEventListener([&](const std::string&, const std::string& message, bool) {
    std::lock_guard lock(mutex);
    events.push_back(message);
  });
  pipeline.addSink(
      "store",
      [&](const Batch& batch) {
        std::lock_guard lock(mutex);
        received.push_back(indexOf(batch));
        return WriteResult::kOk;
      },
      options);
  pipeline.start();
  pipeline.publish(std::make_shared<const Batch>(makeBatch(6)));
  gatherd::sdk::testing::eventually([&] { return pipeline.stats("store").queued == 0; },
                                    std::chrono::seconds(10), std::chrono::milliseconds(2));
  pipeline.stop(1'000);
  std::lock_guard lock(mutex);
  CHECK(received == std::vector<int>{0, 1, 3, 4, 5, 6});
  const auto stats = pipeline.stats("store");
  CHECK(stats.spool_bad_records == 1);
  CHECK(stats.spool_records == 0);
  bool reported = false;
  for (const auto& event : events)
    reported |= event.find("skipped 1 damaged record") != std::string::npos;
  CHECK(reported);
}

TEST_CASE("when the spool cannot write, batches wait in memory and the state is shown",
          "[spool][pipeline]") {
  gatherd::sdk::testing::TempDir dir("gatherd-spool");
  gatherd::sdk::testing::ManualClock clock;
  SinkChannelOptions options;
  options.spool = SpoolOptions{dir.file("spool"), 1u << 20, false, 0};
  Pipeline pipeline(clock);
  std::atomic<bool> accept{false};
  pipeline.addSink(
      "store", [&](const Batch&) { return accept ? WriteResult::kOk : WriteResult::kRetry; },
      options);
  // The folder turns into a file: no segment can be created there (works as root too).
  const std::string spool_dir = dir.file("spool");
  fs::remove_all(spool_dir);
  std::ofstream(spool_dir) << "not a folder";
  pipeline.start();
  pipeline.publish(std::make_shared<const Batch>(makeBatch(1)));
  auto stats = pipeline.stats("store");
  CHECK_FALSE(stats.spool_error.empty());
  CHECK(stats.spool_write_errors == 1);
  CHECK(stats.queued == 1);
  CHECK(stats.memory_bytes > 0);
  // The spool writes again: the next batch goes to disk, and so does batch 1 at stop.
  fs::remove(spool_dir);
  fs::create_directory(spool_dir);
  pipeline.publish(std::make_shared<const Batch>(makeBatch(2)));
  stats = pipeline.stats("store");
  CHECK(stats.spool_error.empty());
  CHECK(stats.spool_records == 1);
  pipeline.stop(0);
  CHECK(pipeline.stats("store").spool_records == 2);
}

TEST_CASE(
    "a sink that reads only some streams gets and spools only their records, and a window "
    "without them comes as one waiting tick",
    "[spool][pipeline][streams]") {
  gatherd::sdk::testing::TempDir dir("gatherd-spool");
  gatherd::sdk::testing::ManualClock clock;
  SinkChannelOptions alerts_only;
  alerts_only.spool = SpoolOptions{dir.path().string(), 1u << 20, true, 0};
  alerts_only.streams = {"alert"};
  const auto batchOf = [](int index, const std::vector<std::string>& streams) {
    Batch batch = makeBatch(index);
    batch.records.clear();
    for (const std::string& stream : streams) {
      gatherd::sdk::Record record;
      record.stream = stream;
      record.key = stream + std::to_string(index);
      batch.records.push_back(std::move(record));
    }
    return std::make_shared<const Batch>(std::move(batch));
  };

  std::mutex mutex;
  std::condition_variable changed;
  bool entered = false, released = false;
  std::vector<std::pair<int, std::vector<std::string>>> alert_sink_got;
  std::vector<int> whole_sink_got;
  Pipeline pipeline(clock);
  pipeline.addSink(
      "hook",
      [&](const Batch& batch) {
        std::unique_lock lock(mutex);
        std::vector<std::string> streams;
        for (const auto& record : batch.records) streams.push_back(record.stream);
        alert_sink_got.emplace_back(indexOf(batch), streams);
        entered = true;
        changed.notify_all();
        changed.wait(lock, [&] { return released; });  // the first write holds the queue up
        return WriteResult::kOk;
      },
      alerts_only);
  pipeline.addSink("all", [&](const Batch& batch) {
    std::lock_guard lock(mutex);
    whole_sink_got.push_back(indexOf(batch));
    return WriteResult::kOk;
  });
  pipeline.start();
  pipeline.publish(batchOf(0, {"invocation", "alert"}));
  {
    std::unique_lock lock(mutex);
    REQUIRE(changed.wait_for(lock, std::chrono::seconds(10), [&] { return entered; }));
  }
  pipeline.publish(batchOf(1, {"invocation"}));
  pipeline.publish(batchOf(2, {"invocation", "quota"}));  // a second tick behind the first: none
  pipeline.publish(batchOf(3, {"alert", "invocation"}));
  pipeline.publish(batchOf(4, {}));
  pipeline.publish(batchOf(5, {"invocation"}));
  const auto waiting = pipeline.stats("hook");
  CHECK(waiting.queued == 4);         // 0 (in write), tick 1, 3, tick 4
  CHECK(waiting.spool_records == 2);  // 0 and 3: ticks never reach the journal
  {
    std::lock_guard lock(mutex);
    released = true;
    changed.notify_all();
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((pipeline.stats("hook").queued > 0 || pipeline.stats("all").queued > 0) &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  pipeline.stop(1'000);
  std::lock_guard lock(mutex);
  using Got = std::vector<std::pair<int, std::vector<std::string>>>;
  CHECK(alert_sink_got == Got{{0, {"alert"}}, {1, {}}, {3, {"alert"}}, {4, {}}});
  CHECK(whole_sink_got == std::vector<int>{0, 1, 2, 3, 4, 5});
  CHECK(pipeline.stats("hook").spool_records == 0);
}

TEST_CASE("at stop a stream-filtered sink's ticks are neither spooled nor reported as left over",
          "[spool][pipeline][streams]") {
  gatherd::sdk::testing::TempDir dir("gatherd-spool");
  gatherd::sdk::testing::ManualClock clock;
  SinkChannelOptions alerts_only;
  alerts_only.spool = SpoolOptions{dir.path().string(), 1u << 20, true, 0};
  alerts_only.streams = {"alert"};
  std::vector<std::string> events;
  std::mutex mutex;
  {
    Pipeline pipeline(clock);
    pipeline.setEventListener([&](const std::string&, const std::string& message, bool) {
      std::lock_guard lock(mutex);
      events.push_back(message);
    });
    pipeline.addSink(
        "hook", [](const Batch&) { return WriteResult::kRetry; }, alerts_only);
    Batch alert = makeBatch(0);
    alert.records.resize(1);
    alert.records[0].stream = "alert";
    pipeline.publish(std::make_shared<const Batch>(alert));
    pipeline.publish(std::make_shared<const Batch>(makeBatch(3)));  // invocations only: a tick
    CHECK(pipeline.stats("hook").queued == 2);
    pipeline.start();
    pipeline.stop(0);
  }
  std::lock_guard lock(mutex);
  bool reported = false;
  for (const auto& event : events) {
    reported |= event.find("stopped with 1 batches undelivered") != std::string::npos &&
                event.find("1 kept in the spool") != std::string::npos;
  }
  CHECK(reported);
  Spool reopened(*alerts_only.spool);
  CHECK(reopened.open().pending == 1);
}
