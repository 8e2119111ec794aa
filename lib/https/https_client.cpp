#include "gatherd/lib/https/https_client.hpp"

#include <mutex>
#include <sstream>

#include <Poco/Net/RejectCertificateHandler.h>
#include <Poco/Net/SSLManager.h>

namespace gatherd::https {

Poco::Net::Context::Ptr strictClientContext(const std::string& ca_file) {
  Poco::Net::initializeSSL();
  Poco::Net::Context::Ptr context = new Poco::Net::Context(
      Poco::Net::Context::TLS_CLIENT_USE, "", "", ca_file, Poco::Net::Context::VERIFY_STRICT, 9,
      /*loadDefaultCAs=*/ca_file.empty());
  context->disableProtocols(Poco::Net::Context::PROTO_SSLV2 | Poco::Net::Context::PROTO_SSLV3 |
                            Poco::Net::Context::PROTO_TLSV1 | Poco::Net::Context::PROTO_TLSV1_1);
  static std::once_flag once;
  std::call_once(once, [&] {
    Poco::Net::SSLManager::InvalidCertificateHandlerPtr reject(
        new Poco::Net::RejectCertificateHandler(false));
    Poco::Net::SSLManager::instance().initializeClient(nullptr, reject, context);
  });
  return context;
}

int statusCode(const Poco::Net::HTTPResponse& response) {
  std::ostringstream head;
  response.write(head);
  const std::string line = head.str();
  const auto space = line.find(' ');
  if (space == std::string::npos) return 0;
  int code = 0;
  for (std::size_t i = space + 1; i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i) {
    code = code * 10 + (line[i] - '0');
  }
  return code;
}

}  // namespace gatherd::https
