#pragma once
// The core's JSON API (/health, /ready, /api/*): request in, response out, no sockets.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/observe/source_status.hpp"
#include "gatherd/sdk/host.hpp"
#include "gatherd/sdk/store.hpp"

namespace gatherd::core {

/// A calendar or rolling range such as "today" or "7d", resolved against `now_ms` in a fixed
/// UTC offset. Returns false for an unknown name.
bool resolveRange(const std::string& name, std::int64_t now_ms, int utc_offset_minutes,
                  std::int64_t& from_ms);

/// Answers the core routes. Thread-safe: called concurrently from the server's threads.
class ApiRoutes {
 public:
  using StoreProvider = std::function<sdk::Store*()>;
  using NowMs = std::function<std::int64_t()>;

  /// The body of /api/alerts with at most N recent (resolved) alerts.
  using AlertsProvider = std::function<std::string(std::size_t)>;

  ApiRoutes(SourceStatusRegistry& sources, StoreProvider store_provider, NowMs now_ms = {});
  /// Before the first request. Without a provider /api/alerts lists nothing (alerts are off).
  void setAlertsProvider(AlertsProvider provider) { alerts_provider_ = std::move(provider); }

  /// True when `path` is one of the core routes (so anything else under /api/ is a 404).
  static bool isCoreRoute(const std::string& path);
  /// Answers a core route. Never throws: a client's mistake is a 400 naming the parameter, a
  /// store failure a 503.
  sdk::HttpResponse handle(const sdk::HttpRequest& request);
  /// The answer to `request` when it needs no store query (today: a GET or HEAD of /api/stats
  /// whose body is in the cache and still fresh), else nullopt: then handle() it on a thread
  /// that may block. Never blocks on the store, never throws; callable from any thread.
  std::optional<sdk::HttpResponse> cachedAnswer(const sdk::HttpRequest& request);

 private:
  sdk::HttpResponse dispatch(const sdk::HttpRequest& request);
  sdk::HttpResponse ready();
  sdk::HttpResponse version();
  sdk::HttpResponse sourcesList();
  sdk::HttpResponse windows(const std::string& query);
  sdk::HttpResponse invocations(const std::string& query);
  sdk::HttpResponse stats(const std::string& query);
  sdk::HttpResponse summary(const std::string& query);
  sdk::HttpResponse timeseries(const std::string& query);
  sdk::HttpResponse errors(const std::string& query);
  sdk::HttpResponse models(const std::string& query);
  sdk::HttpResponse latency(const std::string& query);
  sdk::HttpResponse quotaLatest(const std::string& query);
  sdk::HttpResponse alerts(const std::string& query);
  sdk::Store& requireStore();

  struct StatsKey {
    std::optional<std::string> source;
    int utc_offset_minutes = 0;
    std::string cache_key;
  };
  /// Parses /api/stats's query (throws ParameterError like the route).
  static StatsKey statsKey(const std::string& query);
  /// The cached body for `cache_key` if it was computed at `sequence` less than a second ago,
  /// or, while another request is computing a newer one, the one before it (at most
  /// kStatsStaleMs old).
  std::optional<std::string> freshStats(const std::string& cache_key, std::int64_t now_ms,
                                        std::int64_t sequence);
  /// freshStats() or, when it has nothing, marks `cache_key` as being computed by the caller
  /// (then the caller must call storeStats() or abandonStats()).
  std::optional<std::string> freshStatsOrClaim(const std::string& cache_key, std::int64_t now_ms,
                                               std::int64_t sequence);
  void storeStats(const std::string& cache_key, std::int64_t now_ms, std::int64_t sequence,
                  const std::string& body);
  void abandonStats(const std::string& cache_key);
  /// Under cache_mutex_.
  std::optional<std::string> usableStatsLocked(const std::string& cache_key, std::int64_t now_ms,
                                               std::int64_t sequence) const;

  struct CachedBody {
    std::int64_t sequence = -1;
    std::int64_t computed_ms = 0;
    std::string body;
    /// One request is computing a newer body: the others answer with this one meanwhile instead
    /// of all running the same dozen store queries at once (every second, at the cache's expiry,
    /// each open dashboard and each keep-alive client would otherwise miss together).
    bool refreshing = false;
  };

  SourceStatusRegistry& sources_;
  StoreProvider store_provider_;
  NowMs now_ms_;
  AlertsProvider alerts_provider_;
  std::int64_t started_ms_;
  std::mutex cache_mutex_;
  std::map<std::string, CachedBody> stats_cache_;
};

/// A JSON error body: {"error": message[, "parameter": parameter]}.
sdk::HttpResponse jsonError(int status, const std::string& message,
                            const std::string& parameter = {});

}  // namespace gatherd::core
