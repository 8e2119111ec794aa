#include "core/http/static_files.hpp"

#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/http/api_routes.hpp"
#include <sys/stat.h>

namespace gatherd::core {
namespace {

constexpr std::size_t kMaxFileBytes = 64u << 20;

std::string canonical(const std::string& path) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) return {};
  return resolved;
}

bool hasExtension(const std::string& path) {
  const auto slash = path.rfind('/');
  const auto dot = path.rfind('.');
  return dot != std::string::npos && (slash == std::string::npos || dot > slash);
}

}  // namespace

StaticFiles::StaticFiles(const std::string& root) {
  if (root.empty()) return;
  std::string resolved = canonical(root);
  struct stat info {};
  if (!resolved.empty() && ::stat(resolved.c_str(), &info) == 0 && S_ISDIR(info.st_mode)) {
    root_ = resolved == "/" ? std::string() : resolved;
  }
}

std::string StaticFiles::mimeType(const std::string& path) {
  static const std::pair<const char*, const char*> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".ttf", "font/ttf"},
      {".txt", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"},
  };
  for (const auto& [suffix, type] : kTypes) {
    const std::string_view ending(suffix);
    if (path.size() >= ending.size() &&
        path.compare(path.size() - ending.size(), ending.size(), ending) == 0) {
      return type;
    }
  }
  return "application/octet-stream";
}

bool StaticFiles::readInsideRoot(const std::string& relative, std::string& body,
                                 std::string& real) const {
  real = canonical(root_ + relative);
  // realpath resolves every symlink: what is left must still be under the root.
  if (real.size() <= root_.size() || real.compare(0, root_.size(), root_) != 0 ||
      real[root_.size()] != '/') {
    return false;
  }
  struct stat info {};
  if (::stat(real.c_str(), &info) != 0 || !S_ISREG(info.st_mode) ||
      static_cast<std::size_t>(info.st_size) > kMaxFileBytes) {
    return false;
  }
  std::ifstream file(real, std::ios::binary);
  if (!file) return false;
  std::ostringstream content;
  content << file.rdbuf();
  body = content.str();
  return true;
}

sdk::HttpResponse StaticFiles::serve(const std::string& decoded_path, bool accepts_gzip) const {
  if (!enabled()) return jsonError(404, "not found (no web root is configured)");
  // Every segment must be a plain name: no dotfiles (so no ".." or "."), backslashes or NULs.
  std::string relative;
  std::size_t pos = 1;
  while (pos <= decoded_path.size()) {
    std::size_t end = decoded_path.find('/', pos);
    if (end == std::string::npos) end = decoded_path.size();
    const std::string segment = decoded_path.substr(pos, end - pos);
    pos = end + 1;
    if (segment.empty()) continue;
    // Dotfiles (.env, .git/, ...) are never served, even if someone copied them into the root.
    if (segment.front() == '.' || segment.find('\\') != std::string::npos ||
        segment.find('\0') != std::string::npos) {
      return jsonError(404, "not found");
    }
    relative += "/" + segment;
  }
  if (relative.empty()) relative = "/index.html";

  sdk::HttpResponse response;
  std::string real;
  const bool is_asset = relative.rfind("/assets/", 0) == 0;
  std::string compressed_real;
  if (accepts_gzip && readInsideRoot(relative + ".gz", response.body, compressed_real)) {
    response.content_type = mimeType(relative);
    response.headers.emplace_back("Content-Encoding", "gzip");
    response.headers.emplace_back("Vary", "Accept-Encoding");
    response.headers.emplace_back("Cache-Control",
                                  is_asset ? "public, max-age=31536000, immutable" : "no-cache");
    return response;
  }
  if (readInsideRoot(relative, response.body, real)) {
    response.content_type = mimeType(real);
    if (accepts_gzip) response.headers.emplace_back("Vary", "Accept-Encoding");
    response.headers.emplace_back("Cache-Control",
                                  is_asset ? "public, max-age=31536000, immutable" : "no-cache");
    return response;
  }
  // A missing asset or file name is a real 404; any other path is a client-side route.
  if (is_asset || hasExtension(relative)) return jsonError(404, "not found");
  if (!readInsideRoot("/index.html", response.body, real)) return jsonError(404, "not found");
  response.content_type = "text/html; charset=utf-8";
  response.headers.emplace_back("Cache-Control", "no-cache");
  return response;
}

}  // namespace gatherd::core
