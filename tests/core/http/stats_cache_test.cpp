// /api/stats's cache: one computation at a time, the previous body served meanwhile (over the
// sdk's in-memory FakeStore, with its totals() held at a gate).
#include <condition_variable>
#include <mutex>
#include <thread>

#include <catch2/catch.hpp>

#include "core/http/http_server.hpp"
#include "gatherd/sdk/streams.hpp"
#include "gatherd/sdk/testing/fake_store.hpp"
#include "http_test_client.hpp"

using gatherd::core::HttpServer;
using gatherd::core::HttpServerOptions;
using gatherd::core::SourceStatusRegistry;
using namespace gatherd::core::testing;
namespace sdk = gatherd::sdk;

namespace {

constexpr std::int64_t kMinute = 60'000;

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// A batch of `source`'s window with one successful invocation at `time_ms`.
sdk::Batch oneInvocation(const std::string& source, std::int64_t window_ms,
                         const std::string& request_id, std::int64_t time_ms) {
  namespace f = sdk::streams::invocation;
  sdk::Batch batch;
  batch.window.source = source;
  batch.window.window_ms = window_ms;
  sdk::Record record;
  record.stream = sdk::streams::kInvocation;
  record.key = request_id;
  record.time_ms = time_ms;
  record.fields = {{f::kRequestId, request_id},
                   {f::kStatus, std::string(f::kStatusSuccess)},
                   {f::kTotalTokens, std::int64_t{150}},
                   {f::kCostUsd, 0.01}};
  batch.records.push_back(record);
  return batch;
}

/// A store, with totals() held at a gate the test opens, and counted.
class GatedStore final : public sdk::Store {
 public:
  explicit GatedStore(sdk::Store& inner) : inner_(inner) {}
  void close() {
    std::lock_guard lock(mutex_);
    open_ = false;
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  /// Waits (at most 10 s) until a totals() call waits at the closed gate.
  bool waitForHeldCall() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return held_ > 0; });
  }
  int totalsCalls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  sdk::Status totals(const sdk::RangeQuery& query, sdk::Totals& totals) override {
    {
      std::unique_lock lock(mutex_);
      ++calls_;
      ++held_;
      changed_.notify_all();
      // Bounded (below the client's 10 s timeout), so that a regression fails the checks below
      // instead of hanging the test.
      changed_.wait_for(lock, std::chrono::seconds(5), [&] { return open_; });
      --held_;
    }
    return inner_.totals(query, totals);
  }
  sdk::Status listInvocations(const sdk::InvocationQuery& query,
                              sdk::InvocationPage& page) override {
    return inner_.listInvocations(query, page);
  }
  sdk::Status timeSeries(const sdk::TimeSeriesQuery& query,
                         std::vector<sdk::TimeSeriesPoint>& points) override {
    return inner_.timeSeries(query, points);
  }
  sdk::Status errors(const sdk::RangeQuery& query, int limit,
                     std::vector<sdk::ErrorBucket>& buckets) override {
    return inner_.errors(query, limit, buckets);
  }
  sdk::Status models(const sdk::RangeQuery& query,
                     std::vector<sdk::ModelBreakdown>& models) override {
    return inner_.models(query, models);
  }
  sdk::Status latency(const sdk::RangeQuery& query, sdk::LatencyStats& stats) override {
    return inner_.latency(query, stats);
  }
  sdk::Status latestQuota(const std::optional<std::string>& source,
                          std::vector<sdk::Record>& quotas) override {
    return inner_.latestQuota(source, quotas);
  }
  sdk::Status listWindows(const sdk::WindowQuery& query, sdk::WindowPage& page) override {
    return inner_.listWindows(query, page);
  }
  sdk::Status changesSince(std::int64_t after, int limit, sdk::ChangeList& changes) override {
    return inner_.changesSince(after, limit, changes);
  }
  std::int64_t latestSequence() override { return inner_.latestSequence(); }
  std::int64_t waitForChange(std::int64_t after, std::chrono::milliseconds max_wait) override {
    return inner_.waitForChange(after, max_wait);
  }

 private:
  sdk::Store& inner_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = true;
  int held_ = 0;
  int calls_ = 0;
};

}  // namespace

TEST_CASE(
    "/api/stats is computed by one request at a time: the others get the previous body meanwhile",
    "[http][store]") {
  sdk::testing::FakeStore store;
  GatedStore gated(store);
  SourceStatusRegistry registry;
  registry.add("acct", "xychatai-codex", 10'000);
  HttpServerOptions options;
  options.bind = "127.0.0.1:0";
  HttpServer server(options, registry, [&gated]() -> sdk::Store* { return &gated; });
  const std::int64_t now = nowMs();
  store.write(oneInvocation("acct", now - now % 10'000 - 10'000, "req-1", now - kMinute));
  server.start();
  const auto port = server.port();

  const Reply first = get(port, "/api/stats");
  REQUIRE(first.status == 200);
  const int per_computation = gated.totalsCalls();
  REQUIRE(per_computation > 1);
  // A new invocation: the cached body is out of date, the next request computes a new one.
  store.write(oneInvocation("acct", now - now % 10'000, "req-2", now - 30'000));
  gated.close();
  Reply refreshed;
  std::thread refresher([&] {
    try {
      refreshed = get(port, "/api/stats");
    } catch (const std::exception&) {
      refreshed.status = 0;
    }
  });
  const bool held = gated.waitForHeldCall();
  // Meanwhile three more requests: each answered with the previous body, none queries the store.
  std::vector<Reply> meanwhile;
  std::vector<std::string> failed;  // a request that waited behind the gate times out
  for (int i = 0; i < 3 && held; ++i) {
    try {
      meanwhile.push_back(get(port, "/api/stats"));
    } catch (const std::exception& error) {
      failed.emplace_back(error.what());
    }
  }
  const int calls_meanwhile = gated.totalsCalls() - per_computation;
  gated.open();
  refresher.join();
  REQUIRE(held);
  CHECK(failed.empty());
  CHECK(calls_meanwhile == 1);  // the refresher's own first call, held at the gate
  for (const auto& reply : meanwhile) {
    CHECK(reply.status == 200);
    CHECK(reply.body == first.body);
  }
  REQUIRE(refreshed.status == 200);
  CHECK(refreshed.body != first.body);
  CHECK(refreshed.json()->getObject("allTime")->getValue<std::int64_t>("count") == 2);
  // Once computed, the new body is the one served.
  CHECK(get(port, "/api/stats").body == refreshed.body);
  CHECK(gated.totalsCalls() == 2 * per_computation);
}
