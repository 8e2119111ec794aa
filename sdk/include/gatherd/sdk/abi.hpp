#pragma once
// The binary contract between gatherd and its plugins: ABI version and build fingerprint.

#include <cstdint>

namespace gatherd::sdk {

/// Bumped when a change breaks existing plugin binaries (layout or virtual-table changes).
inline constexpr std::uint32_t kAbiMajor = 2;
/// Bumped when the sdk grows in a backward-compatible way (new query structs, new helpers).
/// The host accepts plugins built against an equal or older minor.
inline constexpr std::uint32_t kAbiMinor = 5;
/// The sdk release, written only here (sdk/CMakeLists.txt reads it for the CMake package's
/// version); part of the fingerprint.
#define GATHERD_SDK_VERSION "2.0.0"
inline constexpr const char* kSdkVersion = GATHERD_SDK_VERSION;

#define GATHERD_SDK_STR2(x) #x
#define GATHERD_SDK_STR(x) GATHERD_SDK_STR2(x)

#if defined(_GLIBCXX_USE_CXX11_ABI)
#define GATHERD_SDK_STDLIB_ABI "libstdc++-cxx11abi" GATHERD_SDK_STR(_GLIBCXX_USE_CXX11_ABI)
#elif defined(_LIBCPP_VERSION)
#define GATHERD_SDK_STDLIB_ABI "libc++" GATHERD_SDK_STR(_LIBCPP_ABI_VERSION)
#else
#define GATHERD_SDK_STDLIB_ABI "unknown-stdlib"
#endif

#if defined(__clang__)
#define GATHERD_SDK_COMPILER "clang-" GATHERD_SDK_STR(__clang_major__)
#elif defined(__GNUC__)
#define GATHERD_SDK_COMPILER "gcc-" GATHERD_SDK_STR(__GNUC__)
#else
#define GATHERD_SDK_COMPILER "unknown-compiler"
#endif

/// Identifies what std types look like in memory: std types cross the plugin boundary, so the
/// host refuses a plugin whose fingerprint differs from its own (another compiler major,
/// another standard library ABI, another sdk release).
#define GATHERD_SDK_FINGERPRINT \
  GATHERD_SDK_COMPILER "/" GATHERD_SDK_STDLIB_ABI "/sdk-" GATHERD_SDK_VERSION

/// Fingerprint of the code that includes this header, as a plain string.
inline constexpr const char* kBuildFingerprint = GATHERD_SDK_FINGERPRINT;

}  // namespace gatherd::sdk
