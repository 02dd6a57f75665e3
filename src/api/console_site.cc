#include "api/console_site.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "common/encoding.h"

namespace kumo::api {

namespace {

namespace fs = std::filesystem;

// The built console is a few MB; anything near this is not a console build.
constexpr uintmax_t kMaxTotalBytes = 64u << 20;

constexpr std::string_view kIndex = "index.html";
constexpr std::string_view kNotBuilt =
    "The console is not built: build it with scripts/build.sh (needs npm)";
constexpr std::string_view kCsp =
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' "
    "'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action "
    "'self'";
constexpr std::string_view kNoCache = "no-cache";
constexpr std::string_view kImmutable = "public, max-age=31536000, immutable";

void HtmlEscape(std::string_view text, std::string* out) {
  for (char c : text) {
    switch (c) {
      case '&':
        *out += "&amp;";
        break;
      case '<':
        *out += "&lt;";
        break;
      case '>':
        *out += "&gt;";
        break;
      case '"':
        *out += "&quot;";
        break;
      case '\'':
        *out += "&#39;";
        break;
      default:
        out->push_back(c);
    }
  }
}

std::string RegionOptions(const std::vector<std::string>& regions) {
  std::string out;
  for (size_t i = 0; i < regions.size(); ++i) {
    out += "<option value=\"";
    HtmlEscape(regions[i], &out);
    out += i == 0 ? "\" selected>" : "\">";
    HtmlEscape(regions[i], &out);
    out += "</option>";
  }
  return out;
}

std::string_view ContentType(std::string_view path) {
  size_t slash = path.rfind('/');
  size_t dot = path.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return "application/octet-stream";
  }
  std::string ext(path.substr(dot + 1));
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (ext == "html") return "text/html;charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript;charset=utf-8";
  if (ext == "css") return "text/css;charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "ico") return "image/x-icon";
  if (ext == "json" || ext == "map") return "application/json";
  if (ext == "woff2") return "font/woff2";
  if (ext == "txt") return "text/plain;charset=utf-8";
  return "application/octet-stream";
}

// Every console answer carries these, whatever its status.
HttpResponse Respond(int status, std::string body, std::string_view content_type,
                     std::string_view cache_control) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::string(content_type);
  r.headers = {
      {"Cache-Control", std::string(cache_control)},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      {"Content-Security-Policy", std::string(kCsp)},
  };
  return r;
}

HttpResponse NotFound(std::string_view message) {
  return Respond(404, std::string(message) + "\n", "text/plain;charset=utf-8", kNoCache);
}

}  // namespace

absl::StatusOr<ConsoleSite> ConsoleSite::Load(const std::string& dir,
                                              const std::vector<std::string>& regions) {
  ConsoleSite site;
  std::error_code ec;
  fs::path root(dir);
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec);
  if (ec) {
    return absl::NotFoundError(
        fmt::format("Cannot read the console dir {}: {}", dir, ec.message()));
  }
  uintmax_t total = 0;
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    // Symlinks are skipped, files and directories alike (directory symlinks are not followed
    // either): nothing outside dir is ever read.
    fs::file_status st = it->symlink_status(ec);
    if (ec) break;
    if (!fs::is_regular_file(st)) continue;
    std::string rel = it->path().lexically_relative(root).generic_string();
    if (rel.empty() || rel == "." || rel.starts_with("../")) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::string bytes(std::istreambuf_iterator<char>(in), {});
    if (in.bad()) {
      return absl::InternalError(fmt::format("Cannot read {}", it->path().string()));
    }
    total += bytes.size();
    if (total > kMaxTotalBytes) {
      return absl::FailedPreconditionError(
          fmt::format("The console dir {} holds more than {} MiB", dir, kMaxTotalBytes >> 20));
    }
    site.files_.emplace(std::move(rel), std::move(bytes));
  }
  if (ec) {
    return absl::InternalError(
        fmt::format("Cannot read the console dir {}: {}", dir, ec.message()));
  }
  auto index = site.files_.find(kIndex);
  if (index == site.files_.end()) {
    return absl::NotFoundError(fmt::format("The console dir {} has no index.html", dir));
  }
  std::string& html = index->second;
  if (size_t at = html.find(kConsoleRegionsPlaceholder); at != std::string::npos) {
    html.replace(at, kConsoleRegionsPlaceholder.size(), RegionOptions(regions));
  }
  site.loaded_ = true;
  return site;
}

std::optional<HttpResponse> ConsoleSite::Handle(const auth::HttpRequestView& request) const {
  std::string_view path = request.path;
  if (!path.starts_with(kConsolePrefix)) return std::nullopt;
  std::string_view rest = path.substr(kConsolePrefix.size());
  if (!rest.empty() && rest[0] != '/') return std::nullopt;  // "/consoles" is not ours

  if (!loaded_) return NotFound(kNotBuilt);
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse r = Respond(405, "Method not allowed\n", "text/plain;charset=utf-8", kNoCache);
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  if (rest.empty()) {
    HttpResponse r = Respond(301, "", "text/plain;charset=utf-8", kNoCache);
    r.headers.emplace_back("Location", "/console/");
    return r;
  }
  // The lookup is in the map read at start-up, never on disk: "..", "//" and the like simply
  // match no name.
  std::optional<std::string> rel = PercentDecode(rest.substr(1), false);
  if (!rel) return NotFound("Not found");
  if (rel->empty()) rel = std::string(kIndex);
  auto file = files_.find(*rel);
  if (file == files_.end()) return NotFound("Not found");
  std::string_view cache = *rel == kIndex                ? kNoCache
                           : rel->starts_with("assets/") ? kImmutable
                                                         : kNoCache;
  return Respond(200, file->second, ContentType(*rel), cache);
}

std::string HostSourceOf(std::string_view public_cidr) {
  std::string base(public_cidr.substr(0, public_cidr.find('/')));
  in_addr a{};
  if (inet_pton(AF_INET, base.c_str(), &a) != 1) return "";
  a.s_addr = htonl(ntohl(a.s_addr) + 1);
  char out[INET_ADDRSTRLEN];
  return inet_ntop(AF_INET, &a, out, sizeof(out)) ? out : "";
}

namespace {

// Whether a peer address is this host's own: loopback, or one of its interfaces' addresses (a
// browser on the host that used the host's LAN address). Its connections to instances leave from
// the host's address on the public network, whatever address it reached kumod on.
bool IsThisHost(std::string_view remote) {
  if (remote == "::1" || remote.substr(0, 4) == "127.") return true;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return false;
  bool found = false;
  for (ifaddrs* i = list; i && !found; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    char buf[INET6_ADDRSTRLEN] = {};
    if (i->ifa_addr->sa_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, buf, sizeof(buf));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr, buf,
                sizeof(buf));
    }
    found = buf[0] && remote == buf;
  }
  freeifaddrs(list);
  return found;
}

}  // namespace

HttpResponse MyIpResponse(std::string_view remote_address, std::string_view host_source) {
  bool here = IsThisHost(remote_address);
  std::string ip(here && !host_source.empty() ? host_source : remote_address);
  // Security group rules take IPv4 ranges only: an IPv6 peer has no "My IP" to offer. The
  // address is written back from its parsed form, so only a dotted quad can reach the answer.
  in_addr v4{};
  char text[INET_ADDRSTRLEN] = {};
  bool ipv4 = inet_pton(AF_INET, ip.c_str(), &v4) == 1 &&
              inet_ntop(AF_INET, &v4, text, sizeof(text)) && ip == text;
  nlohmann::json body = {{"FromThisHost", here}};
  body["SourceIp"] = ipv4 ? nlohmann::json(ip) : nullptr;
  HttpResponse r;
  r.content_type = "application/json";
  r.headers = {{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}};
  r.body = body.dump();
  return r;
}

}  // namespace kumo::api
