// The metadata service gets whatever an instance's software sends: a method, a target and
// headers (Beast has parsed the framing). Input: "METHOD TARGET\nname: value\n…".
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "host/imds/metadata.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static kumo::ManualClock clock(kumo::TimePoint(std::chrono::seconds(1700000000)));
  static kumo::imds::MetadataService service(clock, "fuzz key", nullptr);
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  kumo::imds::Request req;
  std::string first;
  std::getline(in, first);
  size_t space = first.find(' ');
  req.method = first.substr(0, space);
  req.target = space == std::string::npos ? "/" : first.substr(space + 1);
  for (std::string line; std::getline(in, line);) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    req.headers[line.substr(0, colon)] = value;
  }
  kumo::imds::InstanceView view;
  view.instance_id = "i-0123456789abcdef0";
  view.private_ip = "172.31.0.4";
  view.public_ip = "100.64.0.9";
  view.mac = "02:00:00:00:00:01";
  view.public_key = "ssh-ed25519 AAAA k";
  view.key_name = "k";
  view.user_data = "#!/bin/sh\n";
  view.tags_in_metadata = true;
  view.tags = {{"Name", "x"}};
  (void)service.Handle(view, req);
  view.http_tokens = "required";
  (void)service.Handle(view, req);
  return 0;
}
