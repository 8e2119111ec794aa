#pragma once
// One Store test suite, two stores: the cases in store_suite.cpp run against every store sink.
// A test executable links gatherd_store_suite and defines makeStoreBackend() for its sink.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "gatherd/lib/json/time_format.hpp"
#include "gatherd/sdk/record.hpp"
#include "gatherd/sdk/sink.hpp"
#include "gatherd/sdk/store.hpp"
#include "gatherd/sdk/streams.hpp"
#include "gatherd/sdk/testing/fake_host.hpp"

namespace gatherd::store_suite {

using Extra = std::map<std::string, std::string, std::less<>>;

/// What a test knows about one invocation.
struct Invocation {
  std::string request_id;
  std::int64_t time_ms = 0;
  std::string model = "gpt-5-codex";
  std::string status = "success";
  std::string error_message;
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  std::int64_t cache_input_tokens = 0;
  std::int64_t reasoning_tokens = 0;
  std::int64_t total_tokens = 0;
  double cost_usd = 0;
  std::optional<std::int64_t> response_time_ms;
  std::optional<std::int64_t> first_byte_time_ms;
};

inline sdk::Record toRecord(const Invocation& invocation) {
  namespace inv = sdk::streams::invocation;
  sdk::Record record;
  record.stream = sdk::streams::kInvocation;
  const std::string iso = json::formatIsoUtc(invocation.time_ms);
  record.key = invocation.request_id + "|" + iso;
  record.time_ms = invocation.time_ms;
  record.fields[inv::kRequestId] = invocation.request_id;
  record.fields[inv::kOccurredAt] = iso;
  record.fields[inv::kRequestTime] = iso;
  record.fields[inv::kModel] = invocation.model;
  record.fields[inv::kStatus] = invocation.status;
  record.fields[inv::kErrorMessage] = invocation.error_message;
  record.fields[inv::kInputTokens] = invocation.input_tokens;
  record.fields[inv::kOutputTokens] = invocation.output_tokens;
  record.fields[inv::kCacheInputTokens] = invocation.cache_input_tokens;
  record.fields[inv::kReasoningTokens] = invocation.reasoning_tokens;
  record.fields[inv::kTotalTokens] = invocation.total_tokens;
  record.fields[inv::kCostUsd] = invocation.cost_usd;
  if (invocation.response_time_ms) {
    record.fields[inv::kResponseTimeMs] = *invocation.response_time_ms;
  }
  if (invocation.first_byte_time_ms) {
    record.fields[inv::kFirstByteTimeMs] = *invocation.first_byte_time_ms;
  }
  // upstreamNode: a member no field holds, which every store keeps.
  record.raw_json = "{\"requestId\":\"" + invocation.request_id + "\",\"status\":\"" +
                    invocation.status + "\",\"upstreamNode\":\"n1\"}";
  return record;
}

inline sdk::Batch makeBatch(const std::string& source, std::int64_t window_ms,
                            const std::vector<Invocation>& invocations) {
  sdk::Batch batch;
  batch.window.source = source;
  batch.window.window_ms = window_ms;
  batch.window.started_ms = window_ms;
  batch.window.finished_ms = window_ms + 250;
  batch.window.records_seen = static_cast<std::int64_t>(invocations.size());
  batch.window.records_emitted = static_cast<std::int64_t>(invocations.size());
  for (const auto& invocation : invocations) batch.records.push_back(toRecord(invocation));
  return batch;
}

/// A started store sink on a FakeHost, as the suite drives it.
class StoreUnderTest {
 public:
  virtual ~StoreUnderTest() = default;
  virtual bool started() const = 0;
  /// Why init or start failed (empty when both succeeded).
  virtual std::string problem() const = 0;
  virtual sdk::WriteResult write(const sdk::Batch& batch) = 0;
  virtual sdk::Status runMaintenance() = 0;
  virtual sdk::Store& store() = 0;
  virtual void stop() = 0;
  virtual sdk::testing::FakeHost& host() = 0;
  /// The sink's counter `name` without its plugin prefix ("invocations_updated").
  virtual std::int64_t counter(const std::string& name) = 0;
  /// One integer from plain SQL on the store's tables (same names in every store), -1 if none.
  virtual std::int64_t integer(const std::string& sql) = 0;
};

/// Opens stores by name: opening a name again opens the same stored data (a restart).
class StoreBackend {
 public:
  virtual ~StoreBackend() = default;
  virtual std::unique_ptr<StoreUnderTest> open(const std::string& name, Extra extra = {}) = 0;
};

/// Defined by each test executable for its store sink.
std::unique_ptr<StoreBackend> makeStoreBackend();

}  // namespace gatherd::store_suite

namespace Catch {
/// A failed Status prints its message in assertion output.
template <>
struct StringMaker<gatherd::sdk::Status> {
  static std::string convert(const gatherd::sdk::Status& status) {
    return status ? std::string("ok") : "failure: " + status.message();
  }
};
}  // namespace Catch
