#pragma once
// The parts of a Poco HTTPS client every plugin needs the same way: a strict TLS context and the
// numeric HTTP status.

#include <string>

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPResponse.h>

namespace gatherd::https {

/// A client TLS context with VERIFY_STRICT (chain and host name), TLS 1.2 or newer, and the CAs
/// of `ca_file` (empty: the system's). The first call in a plugin also installs a certificate
/// handler that refuses (Poco's default would ask on the console). Throws Poco::Exception when
/// `ca_file` cannot be used.
Poco::Net::Context::Ptr strictClientContext(const std::string& ca_file);

/// The numeric status. HTTPResponse::getStatus() returns an enum that ends at 511, so a
/// Cloudflare 522 read through it is undefined behaviour: take the number from the status line
/// Poco itself writes.
int statusCode(const Poco::Net::HTTPResponse& response);

}  // namespace gatherd::https
