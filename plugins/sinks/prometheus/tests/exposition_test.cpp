#include "exposition.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

namespace gatherd::plugins::prometheus {
namespace {

sdk::MetricFamily counter(const std::string& name, sdk::MetricLabels labels, double value,
                          std::string help = "help text") {
  sdk::MetricFamily family;
  family.name = name;
  family.type = sdk::MetricType::kCounter;
  family.help = std::move(help);
  sdk::MetricSample sample;
  sample.labels = std::move(labels);
  sample.value = value;
  family.samples.push_back(sample);
  return family;
}

sdk::MetricFamily histogram() {
  sdk::MetricFamily family;
  family.name = "gatherd_poll_duration_seconds";
  family.type = sdk::MetricType::kHistogram;
  family.help = "Poll time";
  family.unit = "seconds";
  family.bounds = {0.5, 1, 2.5};
  sdk::MetricSample sample;
  sample.labels = {{"source", "a"}};
  sample.bucket_counts = {1, 3, 3};
  sample.count = 4;
  sample.sum = 7.25;
  family.samples.push_back(sample);
  return family;
}

std::string text(const std::vector<sdk::MetricFamily>& families, Format format = Format::kText) {
  std::string out;
  writeExposition(families, format, out);
  return out;
}

// Runs `promtool check metrics` on the exposition; returns its exit code and output.
int promtool(const std::string& exposition, std::string& output) {
  char path[] = "/tmp/gatherd-prom-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  std::FILE* file = ::fdopen(fd, "w");
  std::fwrite(exposition.data(), 1, exposition.size(), file);
  std::fclose(file);
  const std::string command = std::string("promtool check metrics < ") + path + " 2>&1";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  std::size_t size = 0;
  while ((size = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, size);
  const int status = ::pclose(pipe);
  std::remove(path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("a counter gets _total, HELP and TYPE in the text format") {
  const std::string out =
      text({counter("gatherd_windows", {{"source", "x"}, {"outcome", "ok"}}, 3)});
  CHECK(out ==
        "# HELP gatherd_windows_total help text\n"
        "# TYPE gatherd_windows_total counter\n"
        "gatherd_windows_total{source=\"x\",outcome=\"ok\"} 3\n");
}

TEST_CASE("OpenMetrics names the counter family without _total, adds UNIT and # EOF") {
  auto cost = counter("gatherd_cost_usd", {{"model", "m"}}, 1.5, "Cost");
  cost.unit = "usd";
  const std::string out = text({cost, histogram()}, Format::kOpenMetrics);
  CHECK(out.find("# TYPE gatherd_cost_usd counter\n# UNIT gatherd_cost_usd usd\n"
                 "gatherd_cost_usd_total{model=\"m\"} 1.5\n") != std::string::npos);
  CHECK(out.find("# UNIT gatherd_poll_duration_seconds seconds\n") != std::string::npos);
  CHECK(out.size() >= 6);
  CHECK(out.substr(out.size() - 6) == "# EOF\n");
  // The text format has no UNIT line and no EOF.
  const std::string plain = text({cost});
  CHECK(plain.find("# UNIT") == std::string::npos);
  CHECK(plain.find("# EOF") == std::string::npos);
}

TEST_CASE("a unit that is not the name's suffix is not declared") {
  auto family = counter("gatherd_things", {}, 1);
  family.unit = "seconds";
  CHECK(text({family}, Format::kOpenMetrics).find("# UNIT") == std::string::npos);
}

TEST_CASE("histograms: cumulative buckets with le, +Inf, _sum and _count") {
  const std::string out = text({histogram()});
  CHECK(out ==
        "# HELP gatherd_poll_duration_seconds Poll time\n"
        "# TYPE gatherd_poll_duration_seconds histogram\n"
        "gatherd_poll_duration_seconds_bucket{source=\"a\",le=\"0.5\"} 1\n"
        "gatherd_poll_duration_seconds_bucket{source=\"a\",le=\"1.0\"} 3\n"
        "gatherd_poll_duration_seconds_bucket{source=\"a\",le=\"2.5\"} 3\n"
        "gatherd_poll_duration_seconds_bucket{source=\"a\",le=\"+Inf\"} 4\n"
        "gatherd_poll_duration_seconds_sum{source=\"a\"} 7.25\n"
        "gatherd_poll_duration_seconds_count{source=\"a\"} 4\n");
}

TEST_CASE("label values escape backslash, quote and line feed and bad UTF-8 becomes U+FFFD") {
  std::string out;
  appendEscapedLabelValue(out, "a\\b\"c\nd");
  CHECK(out == "a\\\\b\\\"c\\nd");
  out.clear();
  appendEscapedLabelValue(out, "gpt-\xE6\xA8\xA1\xE5\x9E\x8B");  // valid UTF-8 stays
  CHECK(out == "gpt-\xE6\xA8\xA1\xE5\x9E\x8B");
  out.clear();
  appendEscapedLabelValue(out, "x\xFFy\xC3");  // a stray byte and a cut sequence
  CHECK(out == "x\xEF\xBF\xBDy\xEF\xBF\xBD");
  out.clear();
  appendEscapedLabelValue(out, "\xED\xA0\x80");  // a UTF-16 surrogate is not UTF-8
  CHECK(out == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("HELP escapes backslash and line feed, and the quote in OpenMetrics only") {
  std::string plain, open;
  appendEscapedHelp(plain, "a \"b\"\\\nc", Format::kText);
  appendEscapedHelp(open, "a \"b\"\\\nc", Format::kOpenMetrics);
  CHECK(plain == "a \"b\"\\\\\\nc");
  CHECK(open == "a \\\"b\\\"\\\\\\nc");
}

TEST_CASE("values: integers plain, fractions shortest, NaN and infinities spelled out") {
  auto value = [](double v) {
    std::string out;
    appendValue(out, v);
    return out;
  };
  CHECK(value(0) == "0");
  CHECK(value(1234567890123) == "1234567890123");
  CHECK(value(-3) == "-3");
  CHECK(value(0.1) == "0.1");
  CHECK(value(1e300) == "1e+300");
  CHECK(value(std::nan("")) == "NaN");
  CHECK(value(HUGE_VAL) == "+Inf");
  CHECK(value(-HUGE_VAL) == "-Inf");
  std::string bound;
  appendBound(bound, 5);
  CHECK(bound == "5.0");
}

TEST_CASE("invalid names, repeated families and empty families are left out") {
  auto bad_label = counter("gatherd_ok", {{"bad-label", "x"}}, 1);
  bad_label.samples.push_back(bad_label.samples.front());
  bad_label.samples.back().labels = {{"good", "y"}};
  sdk::MetricFamily empty;
  empty.name = "gatherd_empty";
  const std::string out =
      text({counter("1bad", {}, 1), bad_label, counter("gatherd_ok", {{"again", "z"}}, 2), empty});
  CHECK(out.find("1bad") == std::string::npos);
  CHECK(out.find("bad-label") == std::string::npos);
  CHECK(out.find("gatherd_ok_total{good=\"y\"} 1") != std::string::npos);
  CHECK(out.find("again") == std::string::npos);
  CHECK(out.find("gatherd_empty") == std::string::npos);
  CHECK(validLabelName("source"));
  CHECK_FALSE(validLabelName("__reserved"));
  CHECK(validMetricName("a:b_c"));
}

TEST_CASE("OpenMetrics only when the Accept header asks for it") {
  CHECK(negotiateFormat("") == Format::kText);
  CHECK(negotiateFormat("text/plain;version=0.0.4") == Format::kText);
  // What Prometheus 2.42 sends.
  CHECK(negotiateFormat("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                        "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1") ==
        Format::kOpenMetrics);
  CHECK(negotiateFormat("text/plain, application/openmetrics-text; q=0") == Format::kText);
  CHECK(std::string(contentType(Format::kText)) == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(std::string(contentType(Format::kOpenMetrics)) ==
        "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

// promtool reads the text format only; the OpenMetrics form is checked by a real Prometheus
// scrape in tests/runtime/prometheus_test.cpp.
TEST_CASE("promtool check metrics accepts the text format, escapes included") {
  auto tricky = counter("gatherd_invocations", {{"model", "we\"ird\\mo\ndel \xFF"}}, 2,
                        "Help with \"quotes\", a backslash \\ and\na line feed");
  auto gauge = tricky;
  gauge.name = "gatherd_quota_amount_remaining_usd";
  gauge.type = sdk::MetricType::kGauge;
  gauge.unit = "usd";
  std::string output;
  const std::string exposition = text({tricky, gauge, histogram()});
  INFO(exposition);
  const int code = promtool(exposition, output);
  INFO(output);
  CHECK(code == 0);
}

TEST_CASE("promtool notices a broken exposition (the check can fail)") {
  std::string output;
  CHECK(promtool("gatherd_x_total{a=\"b} 1\n", output) != 0);
}

}  // namespace gatherd::plugins::prometheus
