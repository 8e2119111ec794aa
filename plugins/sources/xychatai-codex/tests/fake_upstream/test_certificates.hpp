#pragma once
// A throw-away PKI for TLS tests, made with the openssl command line in a directory.

#include <string>

namespace gatherd::plugins::xychatai::testing {

struct TestCertificates {
  std::string directory;
  std::string ca_file;         ///< the CA that signed both server certificates
  std::string other_ca_file;   ///< an unrelated CA (a client trusting only it must refuse)
  std::string localhost_cert;  ///< CN/SAN localhost and 127.0.0.1
  std::string localhost_key;
  std::string wrong_name_cert;  ///< signed by ca_file, but for wrong-name.example
  std::string wrong_name_key;

  /// Creates (or reuses, when present) the files in `directory`. Throws std::runtime_error with
  /// openssl's output when a step fails.
  static TestCertificates create(const std::string& directory);
};

/// A fresh directory under the system temp dir; removed by the destructor.
}  // namespace gatherd::plugins::xychatai::testing
