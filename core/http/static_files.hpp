#pragma once
// Serves the dashboard (a Vite SPA) from the web root without ever leaving it.

#include <string>

#include "gatherd/sdk/host.hpp"

namespace gatherd::core {

/// Files under one root directory. `/assets/*` (content-hashed names) get a year-long immutable
/// cache; index.html answers every path that is not a file (the SPA's history routes). Paths
/// with a segment that starts with '.' (`..`, `.env`, `.git/`), encoded separators or NULs, and
/// symlinks that lead out of the root are refused.
class StaticFiles {
 public:
  /// An empty or missing root serves nothing (every lookup is a 404).
  explicit StaticFiles(const std::string& root);

  bool enabled() const { return !root_.empty(); }
  /// `decoded_path` is the request path after percent-decoding (always starts with '/').
  /// With `accepts_gzip`, a precompressed `<file>.gz` beside the file is sent instead
  /// (Content-Encoding: gzip), so the dashboard's first load moves a third of the bytes.
  sdk::HttpResponse serve(const std::string& decoded_path, bool accepts_gzip = false) const;

  static std::string mimeType(const std::string& path);

 private:
  bool readInsideRoot(const std::string& relative, std::string& body, std::string& real) const;
  std::string root_;  ///< canonical, no trailing slash
};

}  // namespace gatherd::core
