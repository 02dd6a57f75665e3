#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "cli/commands.h"

namespace kumo::cli {
namespace {

std::string HomePath(const char* env, const std::string& leaf) {
  if (const char* p = std::getenv(env); p && *p) return p;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.aws/" + leaf;
}

// Replaces (or appends) [section] in an INI file, keeping every other line as it was.
bool UpsertSection(const std::string& path, const std::string& section,
                   const std::vector<std::pair<std::string, std::string>>& kv, mode_t mode,
                   std::string* error) {
  std::string dir = path.substr(0, path.rfind('/'));
  if (!dir.empty()) mkdir(dir.c_str(), 0700);
  std::vector<std::string> lines;
  {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  std::vector<std::string> out;
  bool skipping = false;
  for (const auto& line : lines) {
    std::string trimmed = line;
    trimmed.erase(0, trimmed.find_first_not_of(" \t"));
    if (!trimmed.empty() && trimmed[0] == '[')
      skipping = trimmed.rfind("[" + section + "]", 0) == 0;
    if (!skipping) out.push_back(line);
  }
  while (!out.empty() && out.back().empty()) out.pop_back();
  if (!out.empty()) out.push_back("");
  out.push_back("[" + section + "]");
  for (const auto& [k, v] : kv) out.push_back(k + " = " + v);
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    for (const auto& l : out) f << l << "\n";
    if (!f) {
      *error = "cannot write " + tmp;
      return false;
    }
  }
  chmod(tmp.c_str(), mode);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "cannot replace " + path;
    return false;
  }
  return true;
}

}  // namespace

bool WriteAwsProfile(const std::string& profile, const std::string& access_key_id,
                     const std::string& secret, const std::string& region,
                     const std::string& endpoint, std::string* error) {
  if (!UpsertSection(HomePath("AWS_SHARED_CREDENTIALS_FILE", "credentials"), profile,
                     {{"aws_access_key_id", access_key_id}, {"aws_secret_access_key", secret}},
                     0600, error)) {
    return false;
  }
  // aws CLI v2.9 ignores endpoint_url in profiles (hence the README's alias); newer CLIs and
  // boto3 ≥ 1.28 read it, so it is written anyway.
  std::string section = profile == "default" ? "default" : "profile " + profile;
  std::vector<std::pair<std::string, std::string>> kv = {{"region", region}};
  if (!endpoint.empty()) kv.emplace_back("endpoint_url", endpoint);
  return UpsertSection(HomePath("AWS_CONFIG_FILE", "config"), section, kv, 0600, error);
}

}  // namespace kumo::cli
