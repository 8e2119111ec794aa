#include "xychatai_source.hpp"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include <Poco/URI.h>

#include "gatherd/sdk/streams.hpp"

namespace gatherd::plugins::xychatai {
namespace {

std::string lowerCase(std::string_view text) {
  std::string lower;
  for (char c : text) lower.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
  return lower;
}

bool looksLikeLogin(const std::string& location) {
  const std::string lower = lowerCase(location);
  return lower.find("login") != std::string::npos || lower.find("signin") != std::string::npos ||
         lower.find("sign-in") != std::string::npos || lower.find("auth") != std::string::npos;
}

/// What of a proxy URL must be masked: nothing without user info; else the URL, the user info
/// and the password.
std::vector<std::string> proxySecrets(const std::string& proxy) {
  const auto scheme_end = proxy.find("://");
  const std::size_t start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  const auto at = proxy.find('@', start);
  if (at == std::string::npos) return {};
  const std::string user_info = proxy.substr(start, at - start);
  std::vector<std::string> secrets = {proxy, user_info};
  if (const auto colon = user_info.find(':'); colon != std::string::npos) {
    secrets.push_back(user_info.substr(colon + 1));
  }
  return secrets;
}

bool looksLikeHtml(const FetchResult& fetch) {
  if (lowerCase(fetch.content_type).find("html") != std::string::npos) return true;
  const auto first = fetch.body.find_first_not_of(" \t\r\n\xEF\xBB\xBF");
  return first != std::string::npos && fetch.body[first] == '<';
}

}  // namespace

bool XychataiSource::EmittedKeys::remember(const std::string& key, std::uint64_t fingerprint) {
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    order_.splice(order_.begin(), order_, it->second.position);
    if (it->second.fingerprint == fingerprint) return false;
    it->second.fingerprint = fingerprint;
    return true;
  }
  order_.push_front(key);
  entries_.emplace(key, Entry{fingerprint, order_.begin()});
  if (entries_.size() > kRememberedKeys) {
    entries_.erase(order_.back());
    order_.pop_back();
  }
  return true;
}

XychataiSource::~XychataiSource() {
  stop();
}

sdk::Status XychataiSource::init(const sdk::Config& config, sdk::Host& host) {
  host_ = &host;
  if (auto status = parseSettings(config, settings_); !status) return status;
  redactor_.add(settings_.cookie);
  cookie_header_ =
      settings_.cookie.empty() ? std::string() : settings_.cookie_name + "=" + settings_.cookie;
  redactor_.add(cookie_header_);

  HttpClientOptions options;
  options.url = settings_.url();
  options.ca_file = settings_.ca_file;
  options.proxy = effectiveProxy(settings_);
  // The proxy (configured or from HTTPS_PROXY) may carry user:password: the whole URL, the
  // user info and the password are secrets here and in the core's log mask.
  for (const auto& secret : proxySecrets(options.proxy)) learnSecret(secret);
  options.user_agent = settings_.user_agent.empty()
                           ? "gatherd/" + host.version() + " " + kPluginId + "/" + kPluginVersion
                           : settings_.user_agent;
  options.shared_connections = settings_.shared_connections;
  if (auto status = HttpClient::create(std::move(options), host.clock(), client_); !status) {
    return status;
  }
  host.logger().info("polling " + settings_.url() + " for service '" + settings_.service +
                     "' (times at UTC" + (settings_.utc_offset_minutes >= 0 ? "+" : "-") +
                     std::to_string(std::abs(settings_.utc_offset_minutes) / 60) + ")" +
                     (client_->options().proxy.empty() ? "" : " through a proxy"));
  if (settings_.cookie.empty()) {
    sdk::WindowResult ignored;
    setAuthState(sdk::AuthState::kMissing, renewHint(), ignored);
  }
  return sdk::Status::success();
}

void XychataiSource::stop() {
  if (client_) client_->shutdown();
}

void XychataiSource::learnSecret(const std::string& secret) {
  redactor_.add(secret);
  host_->addSecret(secret);  // the core keeps a set: a repeat costs a lookup
}

std::string XychataiSource::renewHint() const {
  std::string site;
  try {
    site = Poco::URI(settings_.url()).getHost();
  } catch (...) {
    site = settings_.base_url;
  }
  return "log in to " + site + " in the browser, export the '" + settings_.cookie_name +
         "' cookie again (DevTools > Application > Cookies) and set " + kCookieVariable +
         " (cookie = ${" + kCookieVariable + "}), then reload gatherd";
}

void XychataiSource::setAuthState(sdk::AuthState state, const std::string& hint,
                                  sdk::WindowResult& window) {
  window.auth_state = state;
  {
    std::lock_guard lock(mutex_);
    if (state == auth_state_) return;
    auth_state_ = state;
  }
  const std::string hint_text = state == sdk::AuthState::kOk ? std::string() : hint;
  host_->reportAuthState(state, hint_text);
  switch (state) {
    case sdk::AuthState::kOk:
      host_->logger().info("session accepted by the upstream (auth state ok)");
      break;
    case sdk::AuthState::kExpired:
      host_->logger().warn("the session cookie was refused (auth state expired): " + hint);
      break;
    case sdk::AuthState::kMissing:
      host_->logger().warn("no session cookie is configured (auth state missing): " + hint);
      break;
    case sdk::AuthState::kUnknown: break;
  }
}

void XychataiSource::noteFailure(const sdk::WindowResult& window) {
  host_->metrics().increment(std::string("windows_") + sdk::outcomeName(window.outcome));
  if (window.outcome == sdk::Outcome::kAuthError) return;  // setAuthState logged it
  std::string previous;
  {
    std::lock_guard lock(mutex_);
    previous = last_failure_;
    last_failure_ = sdk::outcomeName(window.outcome);
  }
  // One line when the kind of failure changes, not one every 10 seconds; the ledger keeps each.
  if (previous != sdk::outcomeName(window.outcome)) {
    host_->logger().warn(std::string(sdk::outcomeName(window.outcome)) + ": " +
                         redactor_.apply(window.message));
  }
}

void XychataiSource::poll(const sdk::PollContext& context, sdk::Batch& batch) {
  sdk::WindowResult& window = batch.window;
  if (settings_.cookie.empty() || !client_) {
    window.outcome = sdk::Outcome::kAuthError;
    window.message = "no session cookie is configured: " + renewHint();
    setAuthState(sdk::AuthState::kMissing, renewHint(), window);
    noteFailure(window);
    return;
  }
  std::optional<ParsedResponse> parsed;
  fetchAndParse(context, window, parsed);
  window.message = redactor_.apply(window.message);
  if (!parsed) {
    {
      std::lock_guard lock(mutex_);
      window.auth_state = auth_state_;
    }
    if (window.outcome == sdk::Outcome::kAuthError) {
      setAuthState(sdk::AuthState::kExpired, renewHint(), window);
    }
    noteFailure(window);
    return;
  }
  setAuthState(sdk::AuthState::kOk, {}, window);
  accept(*parsed, batch);
  host_->metrics().increment("windows_ok");
  bool recovered = false;
  {
    std::lock_guard lock(mutex_);
    recovered = !last_failure_.empty();
    last_failure_.clear();
  }
  if (recovered) host_->logger().info("polling works again");
}

void XychataiSource::fetchAndParse(const sdk::PollContext& context, sdk::WindowResult& window,
                                   std::optional<ParsedResponse>& parsed) {
  host_->metrics().increment("upstream_requests");
  FetchResult fetch = client_->get(cookie_header_, context.deadline_steady_ms, context.cancel);
  window.http_status = fetch.http_status;
  switch (fetch.status) {
    case FetchStatus::kTimeout:
      window.outcome = sdk::Outcome::kTimeout;
      window.message = fetch.error;
      return;
    case FetchStatus::kCancelled:
      window.outcome = host_->clock().steadyNowMs() >= context.deadline_steady_ms
                           ? sdk::Outcome::kTimeout
                           : sdk::Outcome::kAborted;
      window.message = fetch.error;
      return;
    case FetchStatus::kTransportError:
      window.outcome = sdk::Outcome::kTransportError;
      window.message = fetch.error;
      return;
    case FetchStatus::kTooLarge:
      window.outcome = sdk::Outcome::kParseError;
      window.message = "refused: " + fetch.error;
      return;
    case FetchStatus::kOk: break;
  }
  const int status = fetch.http_status;
  const std::string status_text =
      "HTTP " + std::to_string(status) + (fetch.reason.empty() ? "" : " " + fetch.reason);
  if (status == 401 || status == 403) {
    window.outcome = sdk::Outcome::kAuthError;
    window.message = status_text + ": the session cookie was refused; " + renewHint();
    return;
  }
  if (status >= 300 && status < 400) {
    if (looksLikeLogin(fetch.location)) {
      window.outcome = sdk::Outcome::kAuthError;
      window.message = status_text + " to a login page: the session has ended; " + renewHint();
    } else {
      window.outcome = sdk::Outcome::kHttpError;
      window.message = status_text + " (redirect to '" + fetch.location + "' not followed)";
    }
    return;
  }
  if (status < 200 || status >= 300) {
    window.outcome = sdk::Outcome::kHttpError;
    window.message = status_text;
    return;
  }
  if (looksLikeHtml(fetch)) {
    window.outcome = sdk::Outcome::kAuthError;
    window.message = status_text +
                     " with an HTML page instead of JSON (a login or challenge "
                     "page): " +
                     renewHint();
    return;
  }

  ParseOptions options;
  options.service = settings_.service;
  options.utc_offset_minutes = settings_.utc_offset_minutes;
  options.now_utc_ms = host_->clock().utcNowMs();
  options.redactor = &redactor_;
  ParsedResponse response = parseQuotaResponse(fetch.body, options);
  for (const auto& secret : response.learned_secrets) learnSecret(secret);
  switch (response.envelope) {
    case Envelope::kAuthExpired:
      window.outcome = sdk::Outcome::kAuthError;
      window.message = "the upstream says the session expired (code -1" +
                       (response.message.empty() ? std::string() : ": " + response.message) +
                       "); " + renewHint();
      return;
    case Envelope::kBusinessError:
      window.outcome = sdk::Outcome::kHttpError;
      window.message = "upstream error code " + std::to_string(response.code.value_or(0)) +
                       (response.message.empty() ? std::string() : ": " + response.message);
      return;
    case Envelope::kMalformed:
      window.outcome = sdk::Outcome::kParseError;
      window.message = response.message;
      return;
    case Envelope::kOk: break;
  }
  window.outcome = sdk::Outcome::kOk;
  parsed = std::move(response);
}

void XychataiSource::accept(ParsedResponse& parsed, sdk::Batch& batch) {
  sdk::WindowResult& window = batch.window;
  window.records_seen = parsed.records_seen;
  window.records_rejected = parsed.records_rejected;
  if (!parsed.problems.empty()) {
    std::string message;
    if (parsed.records_rejected > 0) {
      message = std::to_string(parsed.records_rejected) + " of " +
                std::to_string(parsed.records_seen) + " records rejected: ";
    }
    for (std::size_t i = 0; i < parsed.problems.size(); ++i) {
      message += (i == 0 ? "" : "; ") + parsed.problems[i];
    }
    window.message = redactor_.apply(message);
  }

  const std::int64_t now_steady = host_->clock().steadyNowMs();
  bool warn_entitlement = false;
  {
    std::lock_guard lock(mutex_);
    if (!parsed.invocations.empty()) {
      const bool shares = std::any_of(
          parsed.invocations.begin(), parsed.invocations.end(),
          [&](const sdk::Record& record) { return reference_keys_.count(record.key) != 0; });
      std::int64_t oldest = parsed.invocations.front().time_ms;
      std::int64_t newest = oldest;
      for (const auto& record : parsed.invocations) {
        oldest = std::min(oldest, record.time_ms);
        newest = std::max(newest, record.time_ms);
      }
      if (have_reference_ && !shares) {
        window.gap_suspected = true;
        window.gap_from_ms = reference_newest_ms_;
        window.gap_to_ms = oldest;
      }
      have_reference_ = true;
      reference_keys_.clear();
      for (const auto& record : parsed.invocations) reference_keys_.insert(record.key);
      reference_newest_ms_ = newest;
    }
    for (auto& record : parsed.invocations) {
      if (emitted_.remember(record.key, changeFingerprint(record))) {
        batch.records.push_back(std::move(record));
      }
    }
    window.records_emitted = static_cast<std::int64_t>(batch.records.size());
    if (parsed.quota) {
      const std::uint64_t fingerprint = contentFingerprint(*parsed.quota);
      if (!quota_fingerprint_ || *quota_fingerprint_ != fingerprint ||
          now_steady - quota_emitted_steady_ms_ >= kQuotaRefreshMs) {
        quota_fingerprint_ = fingerprint;
        quota_emitted_steady_ms_ = now_steady;
        batch.records.push_back(std::move(*parsed.quota));
        ++window.records_emitted;
      }
    }
    if (!parsed.is_auth && !entitlement_warned_) {
      entitlement_warned_ = true;
      warn_entitlement = true;
    } else if (parsed.is_auth) {
      entitlement_warned_ = false;
    }
  }
  if (window.gap_suspected) {
    host_->metrics().increment("gaps_suspected");
    if (window.message.empty()) {
      window.message =
          "no record in common with the previous poll: records between the two "
          "polls may have been lost";
    }
  }
  if (warn_entitlement) {
    host_->logger().warn("the account has no entitlement for service '" + settings_.service +
                         "' (isAuth false)");
  }
  host_->metrics().increment("records_emitted", window.records_emitted);
  if (window.records_rejected > 0) {
    host_->metrics().increment("records_rejected", window.records_rejected);
  }
}

}  // namespace gatherd::plugins::xychatai
