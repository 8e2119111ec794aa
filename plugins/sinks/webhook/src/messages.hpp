#pragma once
// Alert records -> human text (zh-CN / en) -> the receiver's documented JSON body.

#include <cstdint>
#include <string>
#include <vector>

#include "gatherd/sdk/record.hpp"
#include "settings.hpp"

namespace gatherd::plugins::webhook {

/// One alert as a title line and a body, in `language`.
struct AlertText {
  std::string title;  ///< "[gatherd] FIRING auth: xychatai"
  std::string body;   ///< what happened and, where a human can act, what to do
};

AlertText alertText(const sdk::Record& alert, Language language);

/// The whole message for several alerts: titles and bodies, then the dashboard link.
std::string messageText(const std::vector<sdk::Record>& alerts, const Settings& settings);

/// An HTTP request to send: the URL (DingTalk's signature goes into its query) and the body.
struct OutgoingRequest {
  std::string url;
  std::string body;
};

/// Builds the request for `settings.format`; `now_ms` is the signing timestamp.
OutgoingRequest buildRequest(const std::vector<sdk::Record>& alerts, const Settings& settings,
                             std::int64_t now_ms);

/// Feishu: base64(HMAC-SHA256(key = timestamp + "\n" + secret, message = "")).
std::string feishuSign(std::int64_t timestamp_s, const std::string& secret);
/// DingTalk: base64(HMAC-SHA256(key = secret, message = timestamp_ms + "\n" + secret)).
std::string dingtalkSign(std::int64_t timestamp_ms, const std::string& secret);

/// Whether a 2xx answer body still says the receiver refused the message (DingTalk, WeCom:
/// errcode != 0; Feishu: code != 0; Telegram: ok false). Sets `reason` when it does.
bool refusedInBody(Format format, const std::string& body, std::string& reason);

}  // namespace gatherd::plugins::webhook
