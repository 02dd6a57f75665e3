// The console's request path handling (percent-decoding, the /console prefix, index and asset
// lookup) over a small built site, and the My IP answer for any peer address. Every answer to a
// /console path must be one of the site's own files, a redirect, a 404 or a 405: nothing from
// outside the directory, whatever the path says.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "api/console_site.h"

namespace {

namespace fs = std::filesystem;
using namespace kumo;

struct Site {
  api::ConsoleSite site;
  std::set<std::string> bodies;
};

const Site& TheSite() {
  static Site s = [] {
    fs::path dir = fs::temp_directory_path() / ("kumo-console-fuzz-" + std::to_string(getpid()));
    fs::create_directories(dir / "assets");
    std::ofstream(dir / "index.html") << "<select><!--kumo:regions--></select>";
    std::ofstream(dir / "assets" / "app-1.js") << "console.log(1)";
    std::ofstream(dir / "assets" / "a b.css") << "b{}";
    std::ofstream(dir.parent_path() / "kumo-console-fuzz-secret") << "SECRET";
    auto loaded = api::ConsoleSite::Load(dir.string(), {"eu-west-1", "us-east-1"});
    if (!loaded.ok()) __builtin_trap();
    Site out{*std::move(loaded), {}};
    fs::remove_all(dir);  // served from memory from now on
    return out;
  }();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Site& s = TheSite();
  std::string input(reinterpret_cast<const char*>(data), size);
  // First byte picks the method; the rest is the path (raw, as the server would pass it).
  static const char* kMethods[] = {"GET", "HEAD", "POST", "PUT", "get", ""};
  std::string method = size ? kMethods[uint8_t(input[0]) % 6] : "GET";
  std::string path = size ? input.substr(1) : "";
  auth::HttpRequestView req;
  req.method = method;
  req.path = path;
  auto r = s.site.Handle(req);
  if (r) {
    if (r->status != 200 && r->status != 301 && r->status != 404 && r->status != 405) {
      __builtin_trap();
    }
    if (r->status == 200 && r->body.find("SECRET") != std::string::npos) __builtin_trap();
    if (r->status == 200 && r->body != "console.log(1)" && r->body != "b{}" &&
        r->body.find("<option value=\"eu-west-1\" selected>") == std::string::npos) {
      __builtin_trap();
    }
  }
  api::HttpResponse ip = api::MyIpResponse(path, "100.64.1.1");
  if (ip.body.empty()) __builtin_trap();
  return 0;
}
