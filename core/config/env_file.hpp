#pragma once
// .env files and ${VAR} expansion: secrets never live in the ini, they come from the environment.

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "core/config/config_error.hpp"

namespace gatherd::core {

/// Looks a variable up; nullopt when it is not set anywhere.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

/// Parses a dotenv file: `KEY=VALUE` lines, blank lines and `#` comments, an optional `export `
/// prefix, values in double quotes (escapes \n \t \" \\ \$), single quotes (literal) or bare
/// (trimmed; a ` #` starts a comment). A later line wins over an earlier one. Values are not
/// expanded. Throws ConfigError with file and line on a malformed line or an unreadable file.
std::map<std::string, std::string> parseEnvFile(const std::string& path);
/// The same for text already read; `path` is used in errors (and by the fuzz target).
std::map<std::string, std::string> parseEnvText(const std::string& text, const std::string& path);

/// The lookup gatherd uses: the process environment wins over `<config_dir>/.env.local`, which
/// wins over `<config_dir>/.env`. Missing files are fine. The files and the process
/// environment are read once, now: the returned lookup is a snapshot, safe to call from any
/// thread.
EnvLookup makeEnvLookup(const std::string& config_dir);

/// Expands `${VAR}` and `${VAR:-default}` (default when VAR is unset or empty) and turns `$$`
/// into `$`; any other `$` is kept. The default is literal text. Throws ConfigError naming
/// `where` (as made by formatLocation) and the variable when VAR is unset and has no default,
/// or when a reference is malformed.
std::string expandVariables(const std::string& value, const EnvLookup& env,
                            const std::string& where);
/// The same, with a structured location for the error.
std::string expandVariables(const std::string& value, const EnvLookup& env,
                            const ConfigLocation& where);

}  // namespace gatherd::core
