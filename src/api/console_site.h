// The web console under /console/: the static files Vite built, read into memory once at start-up
// so that no filesystem path is ever derived from a request. index.html gets the daemon's regions
// (home first, selected) in place of its <!--kumo:regions--> placeholder.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "api/ec2_api.h"
#include "auth/sigv4.h"

namespace kumo::api {

inline constexpr std::string_view kConsolePrefix = "/console";
inline constexpr std::string_view kConsoleRegionsPlaceholder = "<!--kumo:regions-->";
inline constexpr std::string_view kConsoleMyIpPath = "/console/api/my-ip";

// GET /console/api/my-ip: the address instances will see the caller's connections come from, the
// source the launch wizard preselects for its SSH rule ("My IP", as on EC2). A browser on the
// host itself (loopback) reaches instances from host_source, the host's address on the public
// network; elsewhere it is the peer's address.
HttpResponse MyIpResponse(std::string_view remote_address, std::string_view host_source);
// The host's address on a public pool "a.b.c.0/24": its first address; empty if unparsable.
std::string HostSourceOf(std::string_view public_cidr);

class ConsoleSite {
 public:
  // A site that was never loaded: every /console path says the console is not built.
  ConsoleSite() = default;

  // Reads every regular file under dir (recursively; symlinks are skipped) into memory. dir must
  // hold an index.html. regions: the regions the daemon serves, the first is the home region.
  static absl::StatusOr<ConsoleSite> Load(const std::string& dir,
                                          const std::vector<std::string>& regions);

  // nullopt unless the path is /console or under /console/. GET and HEAD only (the server drops
  // the body of a HEAD answer).
  std::optional<HttpResponse> Handle(const auth::HttpRequestView& request) const;

  bool loaded() const { return loaded_; }
  size_t file_count() const { return files_.size(); }

 private:
  bool loaded_ = false;
  // Relative path ("index.html", "assets/app-abc.js") → contents; index.html already rendered.
  std::map<std::string, std::string, std::less<>> files_;
};

}  // namespace kumo::api
