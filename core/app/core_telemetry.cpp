#include "core/app/core_telemetry.hpp"

#include <algorithm>
#include <initializer_list>

#include "core/observe/process_metrics.hpp"
#include "core/pipeline/pipeline.hpp"
#include "core/schedule/scheduler.hpp"
#include "gatherd/sdk/abi.hpp"
#include "gatherd/sdk/metric_family.hpp"

namespace gatherd::core {
namespace {

using sdk::addMetricSample;

/// Moves the families that have samples into `families` (an empty family is not exposed).
void appendNonEmpty(std::vector<sdk::MetricFamily>& families,
                    std::initializer_list<sdk::MetricFamily*> built) {
  for (auto* family : built) {
    if (!family->samples.empty()) families.push_back(std::move(*family));
  }
}
using sdk::makeMetricFamily;

}  // namespace

CoreTelemetry::CoreTelemetry(MetricsRegistry& registry, SourceStatusRegistry& sources,
                             std::string version)
    : registry_(registry), sources_(sources), version_(std::move(version)) {
  using sdk::MetricType;
  // Built here, not as globals whose construction could throw before main().
  // Window start lag is normally well under a millisecond; the upper buckets show a loaded host.
  const std::vector<double> lag_bounds = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025,
                                          0.05,   0.1,   0.25,  0.5,   1,    2.5};
  // A poll of the xychatai API takes 0.2-2 s; the deadline is 60 s.
  const std::vector<double> poll_bounds = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                           2.5,  5,     10,   20,  30,   60};
  const std::vector<double> write_bounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                            0.025,  0.05,    0.1,    0.25,  0.5,    1,     5};
  registry_.describe(metric::kWindows, MetricType::kCounter,
                     "Windows of a source by outcome (ok, auth_error, http_error, "
                     "transport_error, timeout, parse_error, skipped, aborted)");
  registry_.describe(metric::kRecordsSeen, MetricType::kCounter, "Records the upstream returned");
  registry_.describe(metric::kRecordsEmitted, MetricType::kCounter,
                     "Records a source put into its batches (new or changed)");
  registry_.describe(metric::kRecordsRejected, MetricType::kCounter,
                     "Records a source could not understand");
  registry_.describe(metric::kGaps, MetricType::kCounter,
                     "Windows after which records may have been lost (more calls than the "
                     "upstream's window between two polls)");
  registry_.describe(metric::kClockJumps, MetricType::kCounter,
                     "Windows that started after a wall-clock jump re-anchored the schedule");
  registry_.describe(metric::kWindowStartLag, MetricType::kHistogram,
                     "Time from a window's scheduled start to the moment its poll began", "seconds",
                     lag_bounds);
  registry_.describe(metric::kPollDuration, MetricType::kHistogram,
                     "Time a source's poll took, by outcome", "seconds", poll_bounds);
  registry_.describe(metric::kSinkWriteDuration, MetricType::kHistogram,
                     "Time one write of a batch to a sink took (the store's write latency for "
                     "store sinks)",
                     "seconds", write_bounds);
  registry_.describe(metric::kSinkWrites, MetricType::kCounter,
                     "Batch writes to a sink by result (ok, retry, drop)");
}

void CoreTelemetry::attach(const Scheduler* scheduler, const Pipeline* pipeline) {
  scheduler_ = scheduler;
  pipeline_ = pipeline;
}

std::vector<std::string> CoreTelemetry::sourceNames() const {
  std::vector<std::string> names;
  for (const auto& status : sources_.snapshot()) {
    if (status.state != InstanceState::kStopped) names.push_back(status.name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

void CoreTelemetry::collectSinkHealth(std::vector<sdk::MetricFamily>& families) const {
  using sdk::MetricType;
  auto health =
      makeMetricFamily("gatherd_sink_health", MetricType::kGauge,
                       "1 for a sink's health (ok, backlogged, degraded), 0 for the others");
  auto queued_bytes =
      makeMetricFamily("gatherd_sink_queue_bytes", MetricType::kGauge,
                       "Size of the batches waiting for a sink (memory and spool)", "bytes");
  auto memory_bytes = makeMetricFamily("gatherd_sink_memory_bytes", MetricType::kGauge,
                                       "Size of the waiting batches held in memory", "bytes");
  auto oldest =
      makeMetricFamily("gatherd_sink_oldest_batch_age_seconds", MetricType::kGauge,
                       "How long the oldest batch waiting for a sink has waited", "seconds");
  auto spool_bytes = makeMetricFamily("gatherd_spool_bytes", MetricType::kGauge,
                                      "Size of a sink's spool on disk", "bytes");
  auto spool_records = makeMetricFamily("gatherd_spool_records", MetricType::kGauge,
                                        "Batches in a sink's spool, not yet delivered");
  auto spool_dropped = makeMetricFamily("gatherd_spool_dropped_records", MetricType::kCounter,
                                        "Batches dropped because a sink's spool was full");
  auto spool_bad = makeMetricFamily("gatherd_spool_bad_records", MetricType::kCounter,
                                    "Damaged spool records skipped");
  auto spool_errors = makeMetricFamily("gatherd_spool_write_errors", MetricType::kCounter,
                                       "Spool appends that failed (the batch stayed in memory)");
  auto spool_failing = makeMetricFamily("gatherd_spool_write_failing", MetricType::kGauge,
                                        "1 while a sink's spool cannot write");
  // sinkSnapshot() reads the pipeline's counters live, so a scrape sees the queue as it is.
  for (const SinkStatus& sink : sources_.sinkSnapshot()) {
    const sdk::MetricLabels labels = {{"sink", sink.name}};
    for (const char* state : {"ok", "backlogged", "degraded"}) {
      addMetricSample(health, {{"sink", sink.name}, {"state", state}},
                      sink.health() == state ? 1 : 0);
    }
    addMetricSample(queued_bytes, labels, static_cast<double>(sink.queued_bytes));
    addMetricSample(memory_bytes, labels, static_cast<double>(sink.memory_bytes));
    addMetricSample(oldest, labels, static_cast<double>(sink.oldest_age_ms) / 1000.0);
    if (!sink.spooled) continue;
    addMetricSample(spool_bytes, labels, static_cast<double>(sink.spool_bytes));
    addMetricSample(spool_records, labels, static_cast<double>(sink.spool_records));
    addMetricSample(spool_dropped, labels, static_cast<double>(sink.spool_dropped));
    addMetricSample(spool_bad, labels, static_cast<double>(sink.spool_bad_records));
    addMetricSample(spool_errors, labels, static_cast<double>(sink.spool_write_errors));
    addMetricSample(spool_failing, labels, sink.spool_error.empty() ? 0 : 1);
  }
  appendNonEmpty(families,
                 {&health, &queued_bytes, &memory_bytes, &oldest, &spool_bytes, &spool_records,
                  &spool_dropped, &spool_bad, &spool_errors, &spool_failing});
}

void CoreTelemetry::collect(std::vector<sdk::MetricFamily>& families) const {
  using sdk::MetricType;
  registry_.collect(families);

  auto auth = makeMetricFamily("gatherd_source_auth_state", MetricType::kGauge,
                               "1 for the auth state a source last reported (unknown, ok, expired, "
                               "missing), 0 for the others");
  auto state = makeMetricFamily("gatherd_source_state", MetricType::kGauge,
                                "1 for the state of a source instance (running, failed, stopped)");
  auto failures =
      makeMetricFamily("gatherd_source_consecutive_failed_windows", MetricType::kGauge,
                       "Windows in a row that ended neither ok nor skipped nor aborted");
  auto last_success =
      makeMetricFamily("gatherd_source_last_success_timestamp_seconds", MetricType::kGauge,
                       "When the last ok window of a source finished", "seconds");
  for (const auto& status : sources_.snapshot()) {
    for (auto value : {sdk::AuthState::kUnknown, sdk::AuthState::kOk, sdk::AuthState::kExpired,
                       sdk::AuthState::kMissing}) {
      addMetricSample(auth, {{"source", status.name}, {"state", sdk::authStateName(value)}},
                      status.auth_state == value ? 1 : 0);
    }
    for (auto value : {InstanceState::kRunning, InstanceState::kFailed, InstanceState::kStopped}) {
      addMetricSample(state, {{"source", status.name}, {"state", instanceStateName(value)}},
                      status.state == value ? 1 : 0);
    }
    addMetricSample(failures, {{"source", status.name}},
                    static_cast<double>(status.consecutive_failures));
    if (status.last_success_ms > 0) {
      addMetricSample(last_success, {{"source", status.name}},
                      static_cast<double>(status.last_success_ms) / 1000.0);
    }
  }
  appendNonEmpty(families, {&auth, &state, &failures, &last_success});

  if (const Scheduler* scheduler = scheduler_.load()) {
    const Scheduler::Stats stats = scheduler->stats();
    auto in_flight = makeMetricFamily("gatherd_polls_in_flight", MetricType::kGauge,
                                      "Polls running now, over every source");
    addMetricSample(in_flight, {}, stats.in_flight);
    families.push_back(std::move(in_flight));
    auto abandoned =
        makeMetricFamily("gatherd_polls_abandoned", MetricType::kGauge,
                         "Polls whose result was given up on (deadline or shutdown) that "
                         "still hold a slot");
    addMetricSample(abandoned, {}, stats.abandoned);
    families.push_back(std::move(abandoned));
    auto most = makeMetricFamily("gatherd_polls_in_flight_max", MetricType::kGauge,
                                 "The largest number of polls in flight since the start");
    addMetricSample(most, {}, stats.max_in_flight);
    families.push_back(std::move(most));
  }

  if (const Pipeline* pipeline = pipeline_.load()) {
    auto queued = makeMetricFamily("gatherd_sink_queue_batches", MetricType::kGauge,
                                   "Batches waiting for a sink, the one being written included");
    auto delivered = makeMetricFamily("gatherd_sink_delivered_batches", MetricType::kCounter,
                                      "Batches a sink accepted");
    auto retries = makeMetricFamily("gatherd_sink_retries", MetricType::kCounter,
                                    "Writes a sink asked to retry later");
    auto dropped = makeMetricFamily("gatherd_sink_dropped_batches", MetricType::kCounter,
                                    "Batches a sink refused for good, or left at shutdown");
    auto overflowed = makeMetricFamily("gatherd_sink_overflowed_batches", MetricType::kCounter,
                                       "Batches refused because a sink's queue was full");
    for (const auto& name : pipeline->sinkNames()) {
      const Pipeline::SinkStats stats = pipeline->stats(name);
      const sdk::MetricLabels labels = {{"sink", name}};
      addMetricSample(queued, labels, static_cast<double>(stats.queued));
      addMetricSample(delivered, labels, static_cast<double>(stats.delivered));
      addMetricSample(retries, labels, static_cast<double>(stats.retries));
      addMetricSample(dropped, labels, static_cast<double>(stats.dropped));
      addMetricSample(overflowed, labels, static_cast<double>(stats.overflowed));
    }
    appendNonEmpty(families, {&queued, &delivered, &retries, &dropped, &overflowed});
  }

  collectSinkHealth(families);
  collectProcessMetrics(families);
  auto build = makeMetricFamily("gatherd_build_info", MetricType::kGauge,
                                "Always 1; the labels say which gatherd this is");
  addMetricSample(build,
                  {{"version", version_},
                   {"abi", std::to_string(sdk::kAbiMajor) + "." + std::to_string(sdk::kAbiMinor)},
                   {"fingerprint", sdk::kBuildFingerprint}},
                  1);
  families.push_back(std::move(build));
}

}  // namespace gatherd::core
