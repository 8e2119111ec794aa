#include "settings.hpp"

#include <algorithm>

namespace gatherd::plugins::webhook {

sdk::ConfigSchema webhookSchema() {
  using sdk::ConfigType;
  return {
      sdk::key("url", ConfigType::kString)
          .required()
          .secret()
          .describedAs("the receiver's webhook URL (secret: it carries the token)"),
      sdk::key("format", ConfigType::kString)
          .byDefault("generic")
          .oneOf({"generic", "feishu", "dingtalk", "wecom", "slack", "telegram"})
          .describedAs("message format of the receiver"),
      sdk::key("secret", ConfigType::kString)
          .secret()
          .describedAs("feishu / dingtalk signing secret (empty: messages are not signed)"),
      sdk::key("chat_id", ConfigType::kString)
          .describedAs("telegram: the chat the bot writes to (required for format = telegram)"),
      sdk::key("rules", ConfigType::kString)
          .describedAs("comma-separated rules to send (auth, failures, source_down, gap, quota, "
                       "plan_expiry); "
                       "empty: all"),
      sdk::key("language", ConfigType::kString)
          .byDefault("zh-CN")
          .oneOf({"zh-CN", "en"})
          .describedAs("language of the messages"),
      sdk::key("dashboard_url", ConfigType::kString)
          .describedAs("a link to the dashboard put in every message (empty: none)"),
      sdk::key("min_interval", ConfigType::kDuration)
          .byDefault("0s")
          .describedAs(
              "at most one message per this interval; alerts in between are sent together"),
      sdk::key("proxy", ConfigType::kString)
          .secret()
          .describedAs(
              "http://[user:pass@]host:port of an HTTP proxy (secret: it can hold credentials)"),
      sdk::key("ca_file", ConfigType::kPath)
          .describedAs("PEM CA bundle for https receivers (empty: the system trust store)"),
      sdk::key("timeout", ConfigType::kDuration)
          .byDefault("10s")
          .describedAs("connect and read timeout of one delivery"),
  };
}

const char* formatName(Format format) {
  switch (format) {
    case Format::kGeneric: return "generic";
    case Format::kFeishu: return "feishu";
    case Format::kDingtalk: return "dingtalk";
    case Format::kWecom: return "wecom";
    case Format::kSlack: return "slack";
    case Format::kTelegram: return "telegram";
  }
  return "generic";
}

sdk::Status parseSettings(const sdk::Config& given, Settings& settings) {
  // Defaults come from the schema only (getters below take no fallback).
  const sdk::Config config = sdk::withDefaults(given, webhookSchema());
  settings.url = config.getString("url");
  if (settings.url.rfind("http://", 0) != 0 && settings.url.rfind("https://", 0) != 0) {
    return sdk::Status::failure("url: must start with http:// or https://");
  }
  const std::string format = config.getString("format");
  for (Format candidate : {Format::kGeneric, Format::kFeishu, Format::kDingtalk, Format::kWecom,
                           Format::kSlack, Format::kTelegram}) {
    if (format == formatName(candidate)) settings.format = candidate;
  }
  settings.secret = config.getString("secret");
  if (!settings.secret.empty() && settings.format != Format::kFeishu &&
      settings.format != Format::kDingtalk) {
    return sdk::Status::failure("secret: only feishu and dingtalk messages are signed");
  }
  settings.chat_id = config.getString("chat_id");
  if (settings.format == Format::kTelegram && settings.chat_id.empty()) {
    return sdk::Status::failure("chat_id: required for format = telegram");
  }
  const std::string rules = config.getString("rules");
  std::size_t start = 0;
  while (start <= rules.size()) {
    std::size_t end = std::min(rules.find(',', start), rules.size());
    std::string rule = rules.substr(start, end - start);
    rule.erase(0, rule.find_first_not_of(" \t"));
    rule.erase(rule.find_last_not_of(" \t") + 1);
    if (!rule.empty()) {
      if (std::find(std::begin(kRuleNames), std::end(kRuleNames), rule) == std::end(kRuleNames)) {
        return sdk::Status::failure("rules: unknown rule '" + rule +
                                    "' (auth, failures, source_down, gap, quota, plan_expiry)");
      }
      settings.rules.insert(rule);
    }
    start = end + 1;
  }
  settings.language = config.getString("language") == "en" ? Language::kEn : Language::kZhCn;
  settings.dashboard_url = config.getString("dashboard_url");
  settings.min_interval_ms = config.getDurationMs("min_interval");
  settings.proxy = config.getString("proxy");
  settings.ca_file = config.getString("ca_file");
  settings.timeout_ms = config.getDurationMs("timeout");
  if (settings.timeout_ms < 100) return sdk::Status::failure("timeout: must be at least 100ms");
  return sdk::Status::success();
}

}  // namespace gatherd::plugins::webhook
