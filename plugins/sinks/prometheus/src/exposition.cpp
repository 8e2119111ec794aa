#include "exposition.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <set>

namespace gatherd::plugins::prometheus {
namespace {

bool startsLikeName(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool nameChar(char c) {
  return startsLikeName(c) || (c >= '0' && c <= '9');
}

// Length of the valid UTF-8 sequence at the start of `text`, or 0.
std::size_t utf8Length(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  std::size_t length = 0;
  std::uint32_t min = 0;
  std::uint32_t code = 0;
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0)
    length = 2, min = 0x80, code = lead & 0x1F;
  else if ((lead & 0xF0) == 0xE0)
    length = 3, min = 0x800, code = lead & 0x0F;
  else if ((lead & 0xF8) == 0xF0)
    length = 4, min = 0x10000, code = lead & 0x07;
  else
    return 0;
  if (text.size() < length) return 0;
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
    code = (code << 6) | (byte(i) & 0x3F);
  }
  if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  return length;
}

void appendLabels(std::string& out, const sdk::MetricLabels& labels, const char* extra_name,
                  double extra_bound) {
  if (labels.empty() && extra_name == nullptr) return;
  out.push_back('{');
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out.push_back(',');
    first = false;
    out.append(name);
    out.append("=\"");
    appendEscapedLabelValue(out, value);
    out.push_back('"');
  }
  if (extra_name != nullptr) {
    if (!first) out.push_back(',');
    out.append(extra_name);
    out.append("=\"");
    appendBound(out, extra_bound);
    out.push_back('"');
  }
  out.push_back('}');
}

void appendSample(std::string& out, const std::string& name, const char* suffix,
                  const sdk::MetricLabels& labels, double value, const char* extra_name = nullptr,
                  double extra_bound = 0) {
  out.append(name);
  out.append(suffix);
  appendLabels(out, labels, extra_name, extra_bound);
  out.push_back(' ');
  appendValue(out, value);
  out.push_back('\n');
}

bool samplesValid(const sdk::MetricSample& sample) {
  for (const auto& [name, value] : sample.labels) {
    if (!validLabelName(name) || name == "le") return false;
  }
  return true;
}

const char* typeName(sdk::MetricType type) {
  switch (type) {
    case sdk::MetricType::kCounter: return "counter";
    case sdk::MetricType::kGauge: return "gauge";
    case sdk::MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

Format negotiateFormat(std::string_view accept) {
  std::size_t begin = 0;
  while (begin < accept.size()) {
    std::size_t end = accept.find(',', begin);
    if (end == std::string_view::npos) end = accept.size();
    std::string_view item = accept.substr(begin, end - begin);
    begin = end + 1;
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    if (item.rfind("application/openmetrics-text", 0) != 0) continue;
    const auto q = item.find("q=");
    if (q != std::string_view::npos) {
      double weight = 1;
      std::from_chars(item.data() + q + 2, item.data() + item.size(), weight);
      if (weight <= 0) continue;
    }
    return Format::kOpenMetrics;
  }
  return Format::kText;
}

const char* contentType(Format format) {
  return format == Format::kOpenMetrics
             ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
             : "text/plain; version=0.0.4; charset=utf-8";
}

bool validMetricName(std::string_view name) {
  if (name.empty() || !(startsLikeName(name[0]) || name[0] == ':')) return false;
  for (char c : name) {
    if (!nameChar(c) && c != ':') return false;
  }
  return true;
}

bool validLabelName(std::string_view name) {
  if (name.empty() || !startsLikeName(name[0]) || name.rfind("__", 0) == 0) return false;
  for (char c : name) {
    if (!nameChar(c)) return false;
  }
  return true;
}

void appendEscapedLabelValue(std::string& out, std::string_view value) {
  std::size_t i = 0;
  while (i < value.size()) {
    const char c = value[i];
    if (c == '\\')
      out.append("\\\\");
    else if (c == '"')
      out.append("\\\"");
    else if (c == '\n')
      out.append("\\n");
    else if (static_cast<unsigned char>(c) < 0x80)
      out.push_back(c);
    else {
      const std::size_t length = utf8Length(value.substr(i));
      if (length == 0) {
        out.append("\xEF\xBF\xBD");
        ++i;
        continue;
      }
      out.append(value.substr(i, length));
      i += length;
      continue;
    }
    ++i;
  }
}

void appendEscapedHelp(std::string& out, std::string_view help, Format format) {
  for (char c : help) {
    if (c == '\\')
      out.append("\\\\");
    else if (c == '\n')
      out.append("\\n");
    else if (c == '"' && format == Format::kOpenMetrics)
      out.append("\\\"");
    else
      out.push_back(c);
  }
}

void appendValue(std::string& out, double value) {
  if (std::isnan(value)) {
    out.append("NaN");
    return;
  }
  if (std::isinf(value)) {
    out.append(value > 0 ? "+Inf" : "-Inf");
    return;
  }
  char buffer[32];
  if (value == std::floor(value) && std::fabs(value) < 9.007199254740992e15) {
    const auto result =
        std::to_chars(buffer, buffer + sizeof buffer, static_cast<std::int64_t>(value));
    out.append(buffer, result.ptr);
    return;
  }
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

void appendBound(std::string& out, double bound) {
  if (std::isinf(bound) && bound > 0) {
    out.append("+Inf");
    return;
  }
  const std::size_t start = out.size();
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, bound);
  out.append(buffer, result.ptr);
  if (out.find_first_of(".eEn", start) == std::string::npos) out.append(".0");
}

void writeExposition(const std::vector<sdk::MetricFamily>& families, Format format,
                     std::string& out) {
  writeFamilies(families, format, out);
  endExposition(format, out);
}

void endExposition(Format format, std::string& out) {
  if (format == Format::kOpenMetrics) out.append("# EOF\n");
}

void writeFamilies(const std::vector<sdk::MetricFamily>& families, Format format,
                   std::string& out) {
  const bool open_metrics = format == Format::kOpenMetrics;
  std::set<std::string, std::less<>> written;
  for (const auto& family : families) {
    if (family.samples.empty() || !validMetricName(family.name)) continue;
    const bool counter = family.type == sdk::MetricType::kCounter;
    // The text format names a counter's metadata after its sample (with _total).
    const std::string meta_name = counter && !open_metrics ? family.name + "_total" : family.name;
    if (!written.insert(family.name).second) continue;
    out.append("# HELP ");
    out.append(meta_name);
    out.push_back(' ');
    appendEscapedHelp(out, family.help.empty() ? family.name : family.help, format);
    out.append("\n# TYPE ");
    out.append(meta_name);
    out.push_back(' ');
    out.append(typeName(family.type));
    out.push_back('\n');
    if (open_metrics && !family.unit.empty() && family.name.size() > family.unit.size() &&
        family.name.compare(family.name.size() - family.unit.size(), family.unit.size(),
                            family.unit) == 0 &&
        family.name[family.name.size() - family.unit.size() - 1] == '_') {
      out.append("# UNIT ");
      out.append(family.name);
      out.push_back(' ');
      out.append(family.unit);
      out.push_back('\n');
    }
    for (const auto& sample : family.samples) {
      if (!samplesValid(sample)) continue;
      switch (family.type) {
        case sdk::MetricType::kCounter:
          appendSample(out, family.name, "_total", sample.labels, sample.value);
          break;
        case sdk::MetricType::kGauge:
          appendSample(out, family.name, "", sample.labels, sample.value);
          break;
        case sdk::MetricType::kHistogram: {
          for (std::size_t i = 0; i < family.bounds.size(); ++i) {
            const double count =
                i < sample.bucket_counts.size() ? static_cast<double>(sample.bucket_counts[i]) : 0;
            appendSample(out, family.name, "_bucket", sample.labels, count, "le", family.bounds[i]);
          }
          appendSample(out, family.name, "_bucket", sample.labels,
                       static_cast<double>(sample.count), "le", INFINITY);
          appendSample(out, family.name, "_sum", sample.labels, sample.sum);
          appendSample(out, family.name, "_count", sample.labels,
                       static_cast<double>(sample.count));
          break;
        }
      }
    }
  }
}

}  // namespace gatherd::plugins::prometheus
