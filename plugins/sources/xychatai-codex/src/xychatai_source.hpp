#pragma once
// The sdk::Source of the xychatai "vibe-code" quota API: one poll = one GET, its records
// deduplicated against what this instance already emitted, gaps and auth state reported.

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "gatherd/sdk/source.hpp"
#include "http_client.hpp"
#include "parser.hpp"
#include "redactor.hpp"
#include "settings.hpp"

namespace gatherd::plugins::xychatai {

inline constexpr const char* kPluginId = "xychatai-codex";
inline constexpr const char* kPluginVersion = "1.0.0";
/// Keys remembered for deduplication: the upstream shows 20 records, so a few hundred keys hold
/// every record that can come back.
inline constexpr std::size_t kRememberedKeys = 512;
/// A quota snapshot is emitted when it changed, and at least this often.
inline constexpr std::int64_t kQuotaRefreshMs = 5 * 60 * 1000;

class XychataiSource final : public sdk::Source {
 public:
  XychataiSource() = default;
  ~XychataiSource() override;

  sdk::Status init(const sdk::Config& config, sdk::Host& host) override;
  void poll(const sdk::PollContext& context, sdk::Batch& batch) override;
  void stop() override;

  const Settings& settings() const noexcept { return settings_; }
  /// The transport (tests read its idle-connection count); null before init().
  const HttpClient* httpClient() const noexcept { return client_.get(); }

 private:
  /// Remembers emitted invocations (key -> change fingerprint), bounded, least recent dropped.
  class EmittedKeys {
   public:
    /// True when the record is new or changed since it was last emitted; remembers it.
    bool remember(const std::string& key, std::uint64_t fingerprint);

   private:
    std::list<std::string> order_;  // most recent first
    struct Entry {
      std::uint64_t fingerprint;
      std::list<std::string>::iterator position;
    };
    std::unordered_map<std::string, Entry> entries_;
  };

  void fetchAndParse(const sdk::PollContext& context, sdk::WindowResult& window,
                     std::optional<ParsedResponse>& parsed);
  void accept(ParsedResponse& parsed, sdk::Batch& batch);
  void setAuthState(sdk::AuthState state, const std::string& hint, sdk::WindowResult& window);
  void noteFailure(const sdk::WindowResult& window);
  std::string renewHint() const;
  /// Adds a secret to this instance's redactor and, when new, to the core's log mask.
  void learnSecret(const std::string& secret);

  Settings settings_;
  sdk::Host* host_ = nullptr;
  std::string cookie_header_;
  Redactor redactor_;
  std::unique_ptr<HttpClient> client_;

  std::mutex mutex_;  // guards everything below: polls of one instance may overlap
  EmittedKeys emitted_;
  bool have_reference_ = false;  // a previous ok poll with records exists
  std::unordered_set<std::string> reference_keys_;
  std::int64_t reference_newest_ms_ = 0;
  std::optional<std::uint64_t> quota_fingerprint_;
  std::int64_t quota_emitted_steady_ms_ = 0;
  sdk::AuthState auth_state_ = sdk::AuthState::kUnknown;
  std::string last_failure_;  // outcome name of the last failed window, empty after an ok one
  bool entitlement_warned_ = false;
};

}  // namespace gatherd::plugins::xychatai
