#include "core/spool/batch_codec.hpp"

#include <cstdint>
#include <cstring>

namespace gatherd::core::spool {
namespace {

constexpr std::uint8_t kVersion = 1;
// A batch bigger than this is not something a source made; refuse it rather than allocate.
constexpr std::uint64_t kMaxCount = 1u << 24;

void putU64(std::string& out, std::uint64_t value) {
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  out.append(bytes, 8);
}
void putI64(std::string& out, std::int64_t value) {
  putU64(out, static_cast<std::uint64_t>(value));
}
void putText(std::string& out, std::string_view text) {
  putU64(out, text.size());
  out.append(text);
}

class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool u8(std::uint8_t& value) {
    if (bytes_.size() - pos_ < 1) return false;
    value = static_cast<std::uint8_t>(bytes_[pos_++]);
    return true;
  }
  bool u64(std::uint64_t& value) {
    if (bytes_.size() - pos_ < 8) return false;
    value = 0;
    for (int i = 0; i < 8; ++i) {
      value |= std::uint64_t{static_cast<std::uint8_t>(bytes_[pos_ + static_cast<std::size_t>(i)])}
               << (8 * i);
    }
    pos_ += 8;
    return true;
  }
  bool i64(std::int64_t& value) {
    std::uint64_t raw = 0;
    if (!u64(raw)) return false;
    value = static_cast<std::int64_t>(raw);
    return true;
  }
  bool text(std::string& value) {
    std::uint64_t size = 0;
    if (!u64(size) || size > bytes_.size() - pos_) return false;
    value.assign(bytes_.substr(pos_, size));
    pos_ += size;
    return true;
  }
  bool count(std::uint64_t& value) {
    // Every counted item takes at least one byte, so a count above what is left is a lie.
    return u64(value) && value <= kMaxCount && value <= bytes_.size() - pos_;
  }
  bool done() const { return pos_ == bytes_.size(); }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

}  // namespace

void encodeBatch(const sdk::Batch& batch, std::string& out) {
  const sdk::WindowResult& w = batch.window;
  out.push_back(static_cast<char>(kVersion));
  putText(out, w.source);
  putI64(out, w.window_ms);
  putI64(out, w.started_ms);
  putI64(out, w.finished_ms);
  out.push_back(static_cast<char>(w.outcome));
  putText(out, w.message);
  putI64(out, w.http_status);
  putI64(out, w.records_seen);
  putI64(out, w.records_emitted);
  putI64(out, w.records_rejected);
  out.push_back(static_cast<char>((w.gap_suspected ? 1 : 0) | (w.clock_jump ? 2 : 0)));
  putI64(out, w.gap_from_ms);
  putI64(out, w.gap_to_ms);
  out.push_back(static_cast<char>(w.auth_state));
  putU64(out, batch.records.size());
  for (const sdk::Record& record : batch.records) {
    putText(out, record.stream);
    putText(out, record.key);
    putI64(out, record.time_ms);
    putText(out, record.raw_json);
    putU64(out, record.fields.size());
    for (const auto& [name, value] : record.fields) {
      putText(out, name);
      out.push_back(static_cast<char>(value.index()));
      switch (value.index()) {
        case 0: break;
        case 1: out.push_back(std::get<bool>(value) ? 1 : 0); break;
        case 2: putI64(out, std::get<std::int64_t>(value)); break;
        case 3: {
          std::uint64_t bits = 0;
          const double number = std::get<double>(value);
          std::memcpy(&bits, &number, sizeof bits);
          putU64(out, bits);
          break;
        }
        default: putText(out, std::get<std::string>(value)); break;
      }
    }
  }
}

bool decodeBatch(std::string_view bytes, sdk::Batch& batch) {
  Reader in(bytes);
  std::uint8_t version = 0, outcome = 0, flags = 0, auth = 0;
  sdk::WindowResult& w = batch.window;
  if (!in.u8(version) || version != kVersion) return false;
  if (!in.text(w.source) || !in.i64(w.window_ms) || !in.i64(w.started_ms) ||
      !in.i64(w.finished_ms) || !in.u8(outcome) || !in.text(w.message) || !in.i64(w.http_status) ||
      !in.i64(w.records_seen) || !in.i64(w.records_emitted) || !in.i64(w.records_rejected) ||
      !in.u8(flags) || !in.i64(w.gap_from_ms) || !in.i64(w.gap_to_ms) || !in.u8(auth)) {
    return false;
  }
  if (outcome > static_cast<std::uint8_t>(sdk::Outcome::kAborted)) return false;
  if (auth > static_cast<std::uint8_t>(sdk::AuthState::kMissing)) return false;
  if (flags > 3) return false;
  w.outcome = static_cast<sdk::Outcome>(outcome);
  w.auth_state = static_cast<sdk::AuthState>(auth);
  w.gap_suspected = (flags & 1) != 0;
  w.clock_jump = (flags & 2) != 0;
  std::uint64_t records = 0;
  if (!in.count(records)) return false;
  batch.records.clear();
  batch.records.reserve(records);
  for (std::uint64_t r = 0; r < records; ++r) {
    sdk::Record& record = batch.records.emplace_back();
    std::uint64_t fields = 0;
    if (!in.text(record.stream) || !in.text(record.key) || !in.i64(record.time_ms) ||
        !in.text(record.raw_json) || !in.count(fields)) {
      return false;
    }
    for (std::uint64_t f = 0; f < fields; ++f) {
      std::string name;
      std::uint8_t type = 0;
      if (!in.text(name) || !in.u8(type)) return false;
      sdk::FieldValue value;
      switch (type) {
        case 0: break;
        case 1: {
          std::uint8_t flag = 0;
          if (!in.u8(flag) || flag > 1) return false;
          value = flag == 1;
          break;
        }
        case 2: {
          std::int64_t number = 0;
          if (!in.i64(number)) return false;
          value = number;
          break;
        }
        case 3: {
          std::uint64_t bits = 0;
          if (!in.u64(bits)) return false;
          double number = 0;
          std::memcpy(&number, &bits, sizeof number);
          value = number;
          break;
        }
        case 4: {
          std::string text;
          if (!in.text(text)) return false;
          value = std::move(text);
          break;
        }
        default: return false;
      }
      record.fields.insert_or_assign(std::move(name), std::move(value));
    }
  }
  return in.done();
}

std::size_t approximateBytes(const sdk::Batch& batch) {
  std::size_t bytes = sizeof(sdk::Batch) + batch.window.source.size() + batch.window.message.size();
  for (const sdk::Record& record : batch.records) {
    bytes +=
        sizeof(sdk::Record) + record.stream.size() + record.key.size() + record.raw_json.size();
    for (const auto& [name, value] : record.fields) {
      bytes += 64 + name.size();  // a map node with its key and value
      if (const auto* text = std::get_if<std::string>(&value)) bytes += text->size();
    }
  }
  return bytes;
}

}  // namespace gatherd::core::spool
