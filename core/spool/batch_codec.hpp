#pragma once
// A compact binary form of sdk::Batch for the spool. Little-endian, length-prefixed strings;
// the decoder checks every length against the buffer, so any byte string is safe to decode.

#include <string>
#include <string_view>

#include "gatherd/sdk/record.hpp"

namespace gatherd::core::spool {

/// Appends the encoded batch to `out`.
void encodeBatch(const sdk::Batch& batch, std::string& out);
/// Decodes a buffer made by encodeBatch(). Returns false (and leaves `batch` unspecified) when
/// the bytes are not a complete, well-formed batch of this version.
bool decodeBatch(std::string_view bytes, sdk::Batch& batch);
/// About how much memory a batch holds (strings and records), for the byte bounds.
std::size_t approximateBytes(const sdk::Batch& batch);

}  // namespace gatherd::core::spool
