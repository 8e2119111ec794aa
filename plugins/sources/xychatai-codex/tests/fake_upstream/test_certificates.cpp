#include "test_certificates.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <Poco/File.h>
#include <Poco/Path.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>

namespace gatherd::plugins::xychatai::testing {
namespace {

void openssl(const std::vector<std::string>& arguments) {
  Poco::Pipe output;
  Poco::ProcessHandle process =
      Poco::Process::launch("openssl", arguments, nullptr, &output, &output);
  Poco::PipeInputStream stream(output);
  std::ostringstream text;
  text << stream.rdbuf();
  const int code = process.wait();
  if (code != 0) {
    std::string command = "openssl";
    for (const auto& argument : arguments) command += " " + argument;
    throw std::runtime_error(command + " failed (" + std::to_string(code) + "): " + text.str());
  }
}

bool exists(const std::string& path) {
  return Poco::File(path).exists();
}

void writeText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

void makeCa(const std::string& dir, const std::string& name, const std::string& subject) {
  openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", dir + "/" + name + ".key", "-out", dir + "/" + name + ".crt", "-days", "30",
           "-subj", subject, "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
           "keyUsage=critical,keyCertSign,cRLSign"});
}

void makeServer(const std::string& dir, const std::string& name, const std::string& common_name,
                const std::string& alt_names) {
  const std::string base = dir + "/" + name;
  openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
           base + ".key", "-out", base + ".csr", "-subj", "/CN=" + common_name});
  writeText(base + ".ext", "subjectAltName=" + alt_names +
                               "\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
                               "extendedKeyUsage=serverAuth\n");
  openssl({"x509", "-req", "-in", base + ".csr", "-CA", dir + "/ca.crt", "-CAkey", dir + "/ca.key",
           "-CAcreateserial", "-out", base + ".crt", "-days", "30", "-extfile", base + ".ext"});
}

}  // namespace

TestCertificates TestCertificates::create(const std::string& directory) {
  Poco::File(directory).createDirectories();
  TestCertificates certificates;
  certificates.directory = directory;
  certificates.ca_file = directory + "/ca.crt";
  certificates.other_ca_file = directory + "/other-ca.crt";
  certificates.localhost_cert = directory + "/localhost.crt";
  certificates.localhost_key = directory + "/localhost.key";
  certificates.wrong_name_cert = directory + "/wrong-name.crt";
  certificates.wrong_name_key = directory + "/wrong-name.key";
  if (!exists(certificates.ca_file)) makeCa(directory, "ca", "/CN=gatherd test CA");
  if (!exists(certificates.other_ca_file)) makeCa(directory, "other-ca", "/CN=unrelated test CA");
  if (!exists(certificates.localhost_cert)) {
    makeServer(directory, "localhost", "localhost", "DNS:localhost,IP:127.0.0.1");
  }
  if (!exists(certificates.wrong_name_cert)) {
    makeServer(directory, "wrong-name", "wrong-name.example", "DNS:wrong-name.example");
  }
  return certificates;
}

}  // namespace gatherd::plugins::xychatai::testing
