#include "redactor.hpp"

namespace gatherd::plugins::xychatai {

bool isSecretKey(std::string_view key) {
  return sdk::isSecretKeyName(key);
}

std::string redactedQuote(const Redactor& redactor, std::string_view text, std::size_t max_chars) {
  std::string shown = redactor.apply(text);
  if (shown.size() <= max_chars) return shown;
  std::size_t cut = max_chars;
  // Do not split a UTF-8 sequence: back up over continuation bytes (10xxxxxx).
  while (cut > 0 && (static_cast<unsigned char>(shown[cut]) & 0xC0) == 0x80) --cut;
  shown.resize(cut);
  return shown + "...";
}

}  // namespace gatherd::plugins::xychatai
