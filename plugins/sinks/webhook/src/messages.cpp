#include "messages.hpp"

#include <cstdio>
#include <sstream>

#include <Poco/Base64Encoder.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>

#include "gatherd/lib/json/json_writer.hpp"
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace gatherd::plugins::webhook {
namespace {

std::string text(const sdk::Record& record, const char* name) {
  return record.get<std::string>(name).value_or("");
}

std::string number(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

std::string amount(const sdk::Record& record, const char* name) {
  const double value = record.get<double>(name).value_or(0);
  return text(record, "unit") == "count" ? number(value, 0) : "$" + number(value, 2);
}

std::string minutes(std::int64_t ms) {
  return std::to_string(ms / 60'000);
}

std::string base64(const unsigned char* data, std::size_t size) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);
  encoder.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  encoder.close();
  return out.str();
}

std::string hmacSha256Base64(const std::string& key, const std::string& message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest, &length);
  return base64(digest, length);
}

}  // namespace

AlertText alertText(const sdk::Record& alert, Language language) {
  const bool en = language == Language::kEn;
  const std::string rule = text(alert, "rule");
  const std::string source = text(alert, "source");
  const bool firing = text(alert, "state") != "resolved";
  const std::string subject = text(alert, "subject");
  const std::string service = text(alert, "service");
  AlertText out;
  std::string state = en ? (firing ? "FIRING" : "RESOLVED") : (firing ? "告警" : "已恢复");
  out.title = "[gatherd] " + state + " " + rule + (source.empty() ? "" : ": " + source);
  std::string& body = out.body;
  if (rule == "test") {
    body = en ? "This is a test message from gatherd: this webhook is wired up correctly."
              : "这是 gatherd 的测试消息：此 webhook 配置正确。";
    out.title = en ? "[gatherd] test message" : "[gatherd] 测试消息";
  } else if (rule == "auth") {
    if (firing) {
      const bool missing = text(alert, "auth_state") == "missing";
      body = en ? std::string(missing ? "No session cookie is configured"
                                      : "The session cookie has expired") +
                      " for source " + source +
                      ": nothing is collected until it is renewed. Export the share-session "
                      "cookie from a logged-in browser, set XY_SESSION_COOKIE_VALUE in .env, then "
                      "run `gatherd reload`."
                : std::string(missing ? "数据源 " + source + " 未配置会话 Cookie"
                                      : "数据源 " + source + " 的会话 Cookie 已过期") +
                      "，在更新之前不会采集任何数据。请从已登录的浏览器导出 share-session "
                      "Cookie，写入 .env 的 XY_SESSION_COOKIE_VALUE，然后运行 `gatherd reload`。";
    } else {
      body = en ? "The session of source " + source + " works again."
                : "数据源 " + source + " 的会话已恢复正常。";
    }
  } else if (rule == "failures") {
    const auto failed = alert.get<std::int64_t>("failed").value_or(0);
    const auto calls = alert.get<std::int64_t>("calls").value_or(0);
    const std::string percent = number(alert.get<double>("ratio").value_or(0) * 100, 0) + "%";
    const std::string span = minutes(alert.get<std::int64_t>("window_ms").value_or(0));
    const std::string counts = std::to_string(failed) + "/" + std::to_string(calls);
    body = en ? (firing ? "" : "Back to normal: ") + counts + " calls failed in the last " + span +
                    " min (" + percent + ")."
              : (firing ? "" : "已恢复正常：") + std::string("最近 ") + span + " 分钟内 " + counts +
                    " 次调用失败（" + percent + "）。";
  } else if (rule == "source_down") {
    if (firing) {
      const std::string windows = std::to_string(alert.get<std::int64_t>("windows").value_or(0));
      const std::string last =
          text(alert, "outcome") +
          (text(alert, "message").empty() ? "" : ": " + text(alert, "message"));
      body =
          en ? "Source " + source + " failed " + windows + " polls in a row (last: " + last + ")."
             : "数据源 " + source + " 连续 " + windows + " 次轮询失败（最近一次：" + last + "）。";
    } else {
      body = en ? "Source " + source + " polls are ok again."
                : "数据源 " + source + " 轮询已恢复正常。";
    }
  } else if (rule == "gap") {
    const std::string span = text(alert, "gap_from") + " – " + text(alert, "gap_to");
    body = firing ? (en ? "Records may have been lost between " + span +
                              " (UTC): more calls than the upstream's 20-record window arrived "
                              "between two polls."
                        : "在 " + span +
                              "（UTC）之间可能丢失了记录：两次轮询之间的调用数超过了上游保留的 "
                              "20 条。")
                  : (en ? "Polls keep up again (last gap " + span + " UTC)."
                        : "轮询已跟上（上次缺口 " + span + " UTC）。");
  } else if (rule == "quota") {
    const std::string left = amount(alert, "remaining") + " / " + amount(alert, "limit");
    if (subject.size() > 9 && subject.compare(subject.size() - 9, 9, ":forecast") == 0) {
      const std::string rate = amount(alert, "rate_per_hour");
      body = firing ? (en ? "At the current rate (" + rate + "/h) the " + service +
                                " quota runs out at " + text(alert, "runs_out_at") +
                                " UTC, before it resets or expires at " +
                                text(alert, "deadline_at") + " UTC (" + left + " left)."
                          : "按当前速度（每小时 " + rate + "），" + service + " 额度将在 " +
                                text(alert, "runs_out_at") + " UTC 用完，早于重置或到期时间 " +
                                text(alert, "deadline_at") + " UTC（剩余 " + left + "）。")
                    : (en ? "At the current rate the " + service +
                                " quota lasts until it resets (" + left + " left)."
                          : "按当前速度 " + service + " 额度可以用到重置（剩余 " + left + "）。");
    } else {
      body = firing ? (en ? "The " + service + " quota is low: " + left + " left."
                          : service + " 额度不足：剩余 " + left + "。")
                    : (en ? "The " + service + " quota is fine again: " + left + " left."
                          : service + " 额度已恢复：剩余 " + left + "。");
    }
  } else if (rule == "plan_expiry") {
    body =
        firing
            ? (en ? "The " + service + " plan expires at " + text(alert, "expires_at") +
                        " UTC: renew it to keep the service."
                  : service + " 套餐将于 " + text(alert, "expires_at") + " UTC 到期，请及时续费。")
            : (en ? "The " + service + " plan was renewed (expires at " +
                        text(alert, "expires_at") + " UTC)."
                  : service + " 套餐已续期（到期时间 " + text(alert, "expires_at") + " UTC）。");
  } else {
    body = rule;
  }
  return out;
}

std::string messageText(const std::vector<sdk::Record>& alerts, const Settings& settings) {
  std::string out;
  for (const auto& alert : alerts) {
    const AlertText part = alertText(alert, settings.language);
    if (!out.empty()) out += "\n\n";
    out += part.title + "\n" + part.body;
  }
  if (!settings.dashboard_url.empty()) {
    out += (settings.language == Language::kEn ? "\n\nDashboard: " : "\n\n仪表盘：") +
           settings.dashboard_url;
  }
  return out;
}

std::string feishuSign(std::int64_t timestamp_s, const std::string& secret) {
  return hmacSha256Base64(std::to_string(timestamp_s) + "\n" + secret, "");
}

std::string dingtalkSign(std::int64_t timestamp_ms, const std::string& secret) {
  return hmacSha256Base64(secret, std::to_string(timestamp_ms) + "\n" + secret);
}

OutgoingRequest buildRequest(const std::vector<sdk::Record>& alerts, const Settings& settings,
                             std::int64_t now_ms) {
  OutgoingRequest request;
  request.url = settings.url;
  const std::string message = messageText(alerts, settings);
  json::Writer writer(request.body);
  writer.beginObject();
  switch (settings.format) {
    case Format::kGeneric: {
      writer.key("text").string(message);
      if (!settings.dashboard_url.empty())
        writer.key("dashboardUrl").string(settings.dashboard_url);
      writer.key("alerts").beginArray();
      for (const auto& alert : alerts) {
        const AlertText part = alertText(alert, settings.language);
        writer.beginObject();
        writer.key("id").string(alert.key);
        for (const char* name : {"rule", "source", "subject", "state", "fired_at", "resolved_at"}) {
          auto it = alert.fields.find(name);
          std::string key = name;
          if (key == "fired_at") key = "firedAt";
          if (key == "resolved_at") key = "resolvedAt";
          writer.key(key);
          if (it == alert.fields.end())
            writer.null();
          else
            writer.value(it->second);
        }
        writer.key("title").string(part.title);
        writer.key("text").string(part.body);
        writer.endObject();
      }
      writer.endArray();
      break;
    }
    case Format::kFeishu:
      if (!settings.secret.empty()) {
        const std::int64_t timestamp_s = now_ms / 1000;
        writer.key("timestamp").string(std::to_string(timestamp_s));
        writer.key("sign").string(feishuSign(timestamp_s, settings.secret));
      }
      writer.key("msg_type").string("text");
      writer.key("content").beginObject().key("text").string(message).endObject();
      break;
    case Format::kDingtalk:
      if (!settings.secret.empty()) {
        std::string sign;
        Poco::URI::encode(dingtalkSign(now_ms, settings.secret), "+/=&?#", sign);
        request.url += (request.url.find('?') == std::string::npos ? "?" : "&");
        request.url += "timestamp=" + std::to_string(now_ms) + "&sign=" + sign;
      }
      writer.key("msgtype").string("text");
      writer.key("text").beginObject().key("content").string(message).endObject();
      break;
    case Format::kWecom:
      writer.key("msgtype").string("text");
      writer.key("text").beginObject().key("content").string(message).endObject();
      break;
    case Format::kSlack: writer.key("text").string(message); break;
    case Format::kTelegram:
      writer.key("chat_id").string(settings.chat_id);
      writer.key("text").string(message);
      writer.key("disable_web_page_preview").boolean(true);
      break;
  }
  writer.endObject();
  return request;
}

bool refusedInBody(Format format, const std::string& body, std::string& reason) {
  if (format == Format::kGeneric || format == Format::kSlack || body.empty()) return false;
  try {
    Poco::JSON::Parser parser;
    auto object = parser.parse(body).extract<Poco::JSON::Object::Ptr>();
    if (format == Format::kTelegram) {
      if (object->has("ok") && !object->optValue<bool>("ok", true)) {
        reason = "telegram: " + object->optValue<std::string>("description", "not ok");
        return true;
      }
      return false;
    }
    const char* code_key = format == Format::kFeishu ? "code" : "errcode";
    const char* message_key = format == Format::kFeishu ? "msg" : "errmsg";
    if (object->has(code_key) && object->getValue<Poco::Int64>(code_key) != 0) {
      reason = std::string(formatName(format)) + " error " +
               std::to_string(object->getValue<Poco::Int64>(code_key)) + ": " +
               object->optValue<std::string>(message_key, "");
      return true;
    }
  } catch (const std::exception&) {
    // Not JSON: the status code decides.
  }
  return false;
}

}  // namespace gatherd::plugins::webhook
