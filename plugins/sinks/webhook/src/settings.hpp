#pragma once
// The webhook sink's keys, parsed apart from the logic.

#include <cstdint>
#include <set>
#include <string>

#include "gatherd/sdk/config.hpp"
#include "gatherd/sdk/status.hpp"

namespace gatherd::plugins::webhook {

enum class Format { kGeneric, kFeishu, kDingtalk, kWecom, kSlack, kTelegram };
enum class Language { kZhCn, kEn };

/// Filled by parseSettings() from webhookSchema(), defaults included: the initialisers here are
/// zero values, never a second copy of a default.
struct Settings {
  std::string url;  ///< secret: webhook URLs carry tokens
  Format format = Format::kGeneric;
  std::string secret;           ///< feishu / dingtalk signing secret (empty: unsigned)
  std::string chat_id;          ///< telegram only
  std::set<std::string> rules;  ///< empty: every rule
  Language language = Language::kZhCn;
  std::string dashboard_url;
  std::int64_t min_interval_ms = 0;
  std::string proxy;
  std::string ca_file;
  std::int64_t timeout_ms = 0;
};

/// The rules a webhook can choose from.
inline constexpr const char* kRuleNames[] = {"auth", "failures", "source_down",
                                             "gap",  "quota",    "plan_expiry"};

sdk::ConfigSchema webhookSchema();
/// Reads validated keys; fails (naming the key) on an unknown rule or a missing chat_id.
sdk::Status parseSettings(const sdk::Config& config, Settings& settings);
const char* formatName(Format format);

}  // namespace gatherd::plugins::webhook
