// The host agent's wire: one JSON request per SOCK_SEQPACKET message, one JSON reply.
//   request  {"op": "launch", "spec": {…}} | {"op": "state", "id": "i-…"} | …
//   reply    {"ok": true, "result": …} | {"ok": false, "code": <absl code>, "message": "…"}
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mutex>

#include "common/status_macros.h"
#include "host/agent/host.h"

namespace kumo::host {
namespace {

using nlohmann::json;

constexpr size_t kMaxMessage = 4 << 20;

json StatusJson(const absl::Status& s) {
  return {{"ok", false}, {"code", int(s.code())}, {"message", std::string(s.message())}};
}

absl::StatusOr<json> Dispatch(Host& host, const json& req) {
  std::string op = req.value("op", "");
  std::string id = req.value("id", "");
  auto spec = [&]() { return InstanceSpecFromJson(req.value("spec", json::object())); };
  auto done = [](const absl::Status& s) -> absl::StatusOr<json> {
    if (!s.ok()) return s;
    return json(nullptr);
  };
  if (op == "launch") {
    ASSIGN_OR_RETURN(auto s, spec());
    return done(host.Launch(s));
  }
  if (op == "request_stop") return done(host.RequestStop(id));
  if (op == "kill") return done(host.Kill(id));
  if (op == "reboot") return done(host.Reboot(id));
  if (op == "state") {
    ASSIGN_OR_RETURN(auto st, host.State(id));
    return json(int(st));
  }
  if (op == "release") {
    ASSIGN_OR_RETURN(auto s, spec());
    return done(host.Release(s));
  }
  if (op == "list_vpcs") {
    ASSIGN_OR_RETURN(auto ids, host.ListVpcs());
    return json(ids);
  }
  if (op == "remove_vpc") return done(host.RemoveVpc(id));
  if (op == "interfaces") {
    ASSIGN_OR_RETURN(auto s, spec());
    return done(host.SetInterfaces(s));
  }
  if (op == "public") {
    ASSIGN_OR_RETURN(auto s, spec());
    return done(host.SetPublicAddress(s));
  }
  if (op == "destroy") {
    ASSIGN_OR_RETURN(auto s, spec());
    return done(host.Destroy(s));
  }
  if (op == "firewall") {
    ASSIGN_OR_RETURN(auto fw, VpcFirewallFromJson(req.value("firewall", json::object())));
    return done(host.ApplyFirewall(fw));
  }
  if (op == "probe_ssh") {
    ASSIGN_OR_RETURN(auto s, spec());
    ASSIGN_OR_RETURN(bool up, host.ProbeSsh(s));
    return json(up);
  }
  if (op == "activity") {
    ASSIGN_OR_RETURN(auto a, host.Activity(id));
    return json{{"cpu_usec", a.cpu_usec}, {"ssh_sessions", a.ssh_sessions}};
  }
  if (op == "console") {
    ASSIGN_OR_RETURN(auto out, host.ConsoleOutput(id));
    return json(out);  // not always UTF-8: the reply's dump replaces what is not
  }
  if (op == "list") {
    ASSIGN_OR_RETURN(auto ids, host.ListInstances());
    return json(ids);
  }
  if (op == "boot_id") {
    ASSIGN_OR_RETURN(auto b, host.BootId());
    return json(b);
  }
  if (op == "teardown") return done(host.Teardown());
  auto volume = [&]() { return VolumeSpecFromJson(req.value("volume", json::object())); };
  auto mount = [&]() { return VolumeMountFromJson(req.value("mount", json::object())); };
  if (op == "create_volume") {
    ASSIGN_OR_RETURN(auto v, volume());
    return done(host.CreateVolume(v));
  }
  if (op == "delete_volume") return done(host.DeleteVolume(id));
  if (op == "attach_volume") {
    ASSIGN_OR_RETURN(auto m, mount());
    return done(host.AttachVolume(id, m));
  }
  if (op == "detach_volume") {
    ASSIGN_OR_RETURN(auto m, mount());
    return done(host.DetachVolume(id, m, req.value("force", false)));
  }
  if (op == "grow_volume") {
    ASSIGN_OR_RETURN(auto v, volume());
    return done(host.GrowVolume(v));
  }
  if (op == "snapshot_volume") {
    ASSIGN_OR_RETURN(auto v, volume());
    ASSIGN_OR_RETURN(int64_t bytes, host.SnapshotVolume(v, req.value("snapshot_id", "")));
    return json(bytes);
  }
  if (op == "copy_snapshot") return done(host.CopySnapshot(req.value("source_id", ""), id));
  if (op == "delete_snapshot") return done(host.DeleteSnapshot(id));
  if (op == "list_snapshots") {
    ASSIGN_OR_RETURN(auto ids, host.ListSnapshots());
    return json(ids);
  }
  if (op == "list_volumes") {
    ASSIGN_OR_RETURN(auto ids, host.ListVolumes());
    return json(ids);
  }
  return absl::InvalidArgumentError(fmt::format("Unknown host agent op '{}'", op));
}

class AgentClient : public Host {
 public:
  AgentClient(std::string exe, std::vector<std::string> args)
      : exe_(std::move(exe)), args_(std::move(args)) {}
  ~AgentClient() override {
    if (fd_ >= 0) close(fd_);
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }

  absl::Status Launch(const InstanceSpec& s) override { return Void("launch", s); }
  absl::Status RequestStop(std::string_view id) override { return Void("request_stop", id); }
  absl::Status Kill(std::string_view id) override { return Void("kill", id); }
  absl::Status Reboot(std::string_view id) override { return Void("reboot", id); }
  absl::StatusOr<ContainerState> State(std::string_view id) override {
    ASSIGN_OR_RETURN(json r, Call({{"op", "state"}, {"id", id}}));
    if (!r.is_number_integer()) return absl::InternalError("Bad state from the host agent");
    return ContainerState(r.get<int>());
  }
  absl::Status Release(const InstanceSpec& s) override { return Void("release", s); }
  absl::Status SetPublicAddress(const InstanceSpec& s) override { return Void("public", s); }
  absl::Status SetInterfaces(const InstanceSpec& s) override { return Void("interfaces", s); }
  absl::StatusOr<std::vector<std::string>> ListVpcs() override {
    ASSIGN_OR_RETURN(json r, Call({{"op", "list_vpcs"}}));
    if (!r.is_array()) return absl::InternalError("Bad VPC list from the host agent");
    return r.get<std::vector<std::string>>();
  }
  absl::Status RemoveVpc(std::string_view id) override {
    return Call({{"op", "remove_vpc"}, {"id", id}}).status();
  }
  absl::Status Destroy(const InstanceSpec& s) override { return Void("destroy", s); }
  absl::Status ApplyFirewall(const VpcFirewall& fw) override {
    return Call({{"op", "firewall"}, {"firewall", ToJson(fw)}}).status();
  }
  absl::StatusOr<bool> ProbeSsh(const InstanceSpec& s) override {
    ASSIGN_OR_RETURN(json r, Call({{"op", "probe_ssh"}, {"spec", ToJson(s)}}));
    return r.is_boolean() && r.get<bool>();
  }
  absl::StatusOr<HostActivity> Activity(std::string_view id) override {
    ASSIGN_OR_RETURN(json r, Call({{"op", "activity"}, {"id", id}}));
    if (!r.is_object()) return absl::InternalError("Bad activity from the host agent");
    return HostActivity{r.value("cpu_usec", int64_t(0)), r.value("ssh_sessions", 0)};
  }
  absl::StatusOr<std::string> ConsoleOutput(std::string_view id) override {
    ASSIGN_OR_RETURN(json r, Call({{"op", "console"}, {"id", id}}));
    if (!r.is_string()) return absl::InternalError("Bad console from the host agent");
    return r.get<std::string>();
  }
  absl::StatusOr<std::vector<std::string>> ListInstances() override {
    ASSIGN_OR_RETURN(json r, Call({{"op", "list"}}));
    if (!r.is_array()) return absl::InternalError("Bad list from the host agent");
    return r.get<std::vector<std::string>>();
  }
  absl::StatusOr<std::string> BootId() override {
    ASSIGN_OR_RETURN(json r, Call({{"op", "boot_id"}}));
    if (!r.is_string()) return absl::InternalError("Bad boot id from the host agent");
    return r.get<std::string>();
  }
  absl::Status Teardown() override { return Call({{"op", "teardown"}}).status(); }

  absl::Status CreateVolume(const VolumeSpec& v) override {
    return Call({{"op", "create_volume"}, {"volume", ToJson(v)}}).status();
  }
  absl::Status DeleteVolume(std::string_view id) override { return Void("delete_volume", id); }
  absl::Status AttachVolume(std::string_view id, const VolumeMount& m) override {
    return Call({{"op", "attach_volume"}, {"id", id}, {"mount", ToJson(m)}}).status();
  }
  absl::Status DetachVolume(std::string_view id, const VolumeMount& m, bool force) override {
    return Call({{"op", "detach_volume"}, {"id", id}, {"mount", ToJson(m)}, {"force", force}})
        .status();
  }
  absl::Status GrowVolume(const VolumeSpec& v) override {
    return Call({{"op", "grow_volume"}, {"volume", ToJson(v)}}).status();
  }
  absl::StatusOr<int64_t> SnapshotVolume(const VolumeSpec& v, std::string_view snap) override {
    ASSIGN_OR_RETURN(
        json r, Call({{"op", "snapshot_volume"}, {"volume", ToJson(v)}, {"snapshot_id", snap}}));
    if (!r.is_number_integer()) return absl::InternalError("Bad snapshot size from the host agent");
    return r.get<int64_t>();
  }
  absl::Status CopySnapshot(std::string_view source, std::string_view id) override {
    return Call({{"op", "copy_snapshot"}, {"source_id", source}, {"id", id}}).status();
  }
  absl::Status DeleteSnapshot(std::string_view id) override { return Void("delete_snapshot", id); }
  absl::StatusOr<std::vector<std::string>> ListSnapshots() override {
    return Ids("list_snapshots");
  }
  absl::StatusOr<std::vector<std::string>> ListVolumes() override { return Ids("list_volumes"); }

 private:
  absl::StatusOr<std::vector<std::string>> Ids(const char* op) {
    ASSIGN_OR_RETURN(json r, Call({{"op", op}}));
    if (!r.is_array()) return absl::InternalError("Bad list from the host agent");
    return r.get<std::vector<std::string>>();
  }
  absl::Status Void(const char* op, std::string_view id) {
    return Call({{"op", op}, {"id", id}}).status();
  }
  absl::Status Void(const char* op, const InstanceSpec& s) {
    return Call({{"op", op}, {"spec", ToJson(s)}}).status();
  }

  absl::Status Spawn() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
      return absl::InternalError("socketpair failed");
    }
    std::vector<std::string> argv = {exe_, "--host-agent", "3"};
    argv.insert(argv.end(), args_.begin(), args_.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    pid_t pid = fork();
    if (pid < 0) return absl::InternalError("fork failed");
    if (pid == 0) {
      // Only async-signal-safe calls between fork and exec: kumod is threaded.
      if (dup2(sv[1], 3) < 0) _exit(127);  // dup2 clears FD_CLOEXEC on 3
      // Nothing else of kumod's: its listening socket, inherited by the agent and from it by
      // every container monitor, would keep the port bound after kumod dies.
      close_range(4, ~0U, 0);
      execv(cargv[0], cargv.data());
      _exit(127);
    }
    close(sv[1]);
    fd_ = sv[0];
    pid_ = pid;
    return absl::OkStatus();
  }

  absl::StatusOr<json> Call(const json& req) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string msg = req.dump(-1, ' ', false, json::error_handler_t::replace);
    // One retry through a fresh agent: every op is idempotent, so repeating one that a dying
    // agent may have half done is safe.
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (fd_ < 0) RETURN_IF_ERROR(Spawn());
      if (send(fd_, msg.data(), msg.size(), MSG_NOSIGNAL) != ssize_t(msg.size())) {
        close(fd_);
        fd_ = -1;
        continue;
      }
      // One buffer for the client's life: zeroing 4 MiB per call would cost more than most calls.
      if (buf_.size() != kMaxMessage) buf_.assign(kMaxMessage, '\0');
      ssize_t n = recv(fd_, buf_.data(), buf_.size(), 0);
      if (n <= 0) {
        close(fd_);
        fd_ = -1;
        continue;
      }
      json reply = json::parse(buf_.begin(), buf_.begin() + n, nullptr, false);
      if (reply.is_discarded() || !reply.is_object()) {
        return absl::InternalError("Unreadable reply from the host agent");
      }
      if (reply.value("ok", false)) return reply.value("result", json(nullptr));
      return absl::Status(absl::StatusCode(reply.value("code", 13)),
                          reply.value("message", std::string("host agent error")));
    }
    return absl::UnavailableError("The host agent is not answering");
  }

  std::string exe_;
  std::vector<std::string> args_;
  std::mutex mu_;
  std::string buf_;
  int fd_ = -1;
  pid_t pid_ = -1;
};

json VpcJson(const VpcNet& v) {
  return {{"vpc_id", v.vpc_id},
          {"cidr", v.cidr},
          {"secondary_cidrs", v.secondary_cidrs},
          {"subnet_cidrs", v.subnet_cidrs},
          {"dns_domain", v.dns_domain}};
}

// Throws (json's exceptions) on a missing or mistyped field; callers turn that into a status.
VpcNet VpcFromJson(const json& v) {
  VpcNet out;
  out.vpc_id = v.at("vpc_id").get<std::string>();
  out.cidr = v.at("cidr").get<std::string>();
  out.secondary_cidrs = v.value("secondary_cidrs", std::vector<std::string>{});
  out.subnet_cidrs = v.at("subnet_cidrs").get<std::vector<std::string>>();
  out.dns_domain = v.at("dns_domain").get<std::string>();
  return out;
}

json RulesJson(const std::vector<FirewallRule>& rules) {
  json out = json::array();
  for (const auto& r : rules) {
    out.push_back({{"protocol", r.protocol},
                   {"from", r.from},
                   {"to", r.to},
                   {"cidr", r.cidr},
                   {"peer_set", r.peer_set}});
  }
  return out;
}

std::vector<FirewallRule> RulesFromJson(const json& j) {
  std::vector<FirewallRule> out;
  for (const auto& r : j) {
    out.push_back({r.at("protocol").get<std::string>(), r.at("from").get<int>(),
                   r.at("to").get<int>(), r.at("cidr").get<std::string>(),
                   r.at("peer_set").get<std::string>()});
  }
  return out;
}

}  // namespace

json ToJson(const VpcFirewall& fw) {
  json ports = json::array();
  for (const auto& p : fw.ports) {
    ports.push_back({{"instance_id", p.instance_id},
                     {"mac", p.mac},
                     {"private_ip", p.private_ip},
                     {"ingress", RulesJson(p.ingress)},
                     {"egress", RulesJson(p.egress)},
                     {"secondary_ips", p.secondary_ips},
                     {"source_dest_check", p.source_dest_check}});
  }
  json routes = json::array();
  for (const auto& r : fw.routes) {
    routes.push_back(
        {{"subnet_cidr", r.subnet_cidr}, {"destination", r.destination}, {"target", r.target}});
  }
  return {
      {"vpc", VpcJson(fw.vpc)}, {"ports", ports}, {"peer_sets", fw.peer_sets}, {"routes", routes}};
}

absl::StatusOr<VpcFirewall> VpcFirewallFromJson(const json& j) {
  try {
    VpcFirewall fw;
    fw.vpc = VpcFromJson(j.at("vpc"));
    for (const auto& p : j.at("ports")) {
      fw.ports.push_back({p.at("instance_id").get<std::string>(), p.at("mac").get<std::string>(),
                          p.at("private_ip").get<std::string>(), RulesFromJson(p.at("ingress")),
                          RulesFromJson(p.at("egress")),
                          p.value("secondary_ips", std::vector<std::string>{}),
                          p.value("source_dest_check", true)});
    }
    for (const auto& r : j.value("routes", json::array())) {
      fw.routes.push_back({r.at("subnet_cidr").get<std::string>(),
                           r.at("destination").get<std::string>(),
                           r.at("target").get<std::string>()});
    }
    fw.peer_sets = j.at("peer_sets").get<std::map<std::string, std::vector<std::string>>>();
    return fw;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(fmt::format("Bad firewall: {}", e.what()));
  }
}

namespace {

json PortJson(const InstancePort& p) {
  return {{"instance_id", p.instance_id},
          {"vpc_id", p.vpc_id},
          {"mac", p.mac},
          {"private_ip", p.private_ip},
          {"prefix_len", p.prefix_len},
          {"gateway", p.gateway},
          {"public_ip", p.public_ip},
          {"device_index", p.device_index}};
}

// Throws on a missing member (the caller turns that into InvalidArgument).
InstancePort PortFromJson(const json& p) {
  InstancePort port;
  port.instance_id = p.at("instance_id").get<std::string>();
  port.vpc_id = p.at("vpc_id").get<std::string>();
  port.mac = p.at("mac").get<std::string>();
  port.private_ip = p.at("private_ip").get<std::string>();
  port.prefix_len = p.at("prefix_len").get<int>();
  port.gateway = p.at("gateway").get<std::string>();
  port.public_ip = p.at("public_ip").get<std::string>();
  port.device_index = p.value("device_index", 0);
  return port;
}

}  // namespace

json ToJson(const InstanceSpec& s) {
  return {{"instance_id", s.instance_id},
          {"rootfs", s.rootfs},
          {"hostname", s.hostname},
          {"vcpus", s.vcpus},
          {"memory_bytes", s.memory_bytes},
          {"login_user", s.login_user},
          {"public_key", s.public_key},
          {"vpc", VpcJson(s.vpc)},
          {"port", PortJson(s.port)},
          {"interfaces",
           [&] {
             json a = json::array();
             for (const auto& p : s.interfaces) a.push_back(PortJson(p));
             return a;
           }()},
          {"extra_addresses",
           [&] {
             json a = json::array();
             for (const auto& p : s.extra_addresses) a.push_back(PortJson(p));
             return a;
           }()},
          {"root_volume_id", s.root_volume_id},
          {"root_size_bytes", s.root_size_bytes},
          {"root_snapshot_id", s.root_snapshot_id},
          {"gpu_devices", s.gpu_devices},
          {"volumes", [&] {
             json a = json::array();
             for (const auto& m : s.volumes) a.push_back(ToJson(m));
             return a;
           }()}};
}

json ToJson(const VolumeMount& m) { return {{"volume_id", m.volume_id}, {"name", m.name}}; }

absl::StatusOr<VolumeMount> VolumeMountFromJson(const json& j) {
  try {
    return VolumeMount{j.at("volume_id").get<std::string>(), j.at("name").get<std::string>()};
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(fmt::format("Bad volume mount: {}", e.what()));
  }
}

json ToJson(const VolumeSpec& v) {
  return {{"volume_id", v.volume_id},
          {"size_bytes", v.size_bytes},
          {"snapshot_id", v.snapshot_id},
          {"instance_id", v.instance_id},
          {"mount_name", v.mount_name}};
}

absl::StatusOr<VolumeSpec> VolumeSpecFromJson(const json& j) {
  try {
    VolumeSpec v;
    v.volume_id = j.at("volume_id").get<std::string>();
    v.size_bytes = j.at("size_bytes").get<int64_t>();
    v.snapshot_id = j.at("snapshot_id").get<std::string>();
    v.instance_id = j.at("instance_id").get<std::string>();
    v.mount_name = j.at("mount_name").get<std::string>();
    return v;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(fmt::format("Bad volume spec: {}", e.what()));
  }
}

absl::StatusOr<InstanceSpec> InstanceSpecFromJson(const json& j) {
  try {
    InstanceSpec s;
    s.instance_id = j.at("instance_id").get<std::string>();
    s.rootfs = j.at("rootfs").get<std::string>();
    s.hostname = j.at("hostname").get<std::string>();
    s.vcpus = j.at("vcpus").get<int>();
    s.memory_bytes = j.at("memory_bytes").get<int64_t>();
    s.login_user = j.at("login_user").get<std::string>();
    s.public_key = j.at("public_key").get<std::string>();
    s.vpc = VpcFromJson(j.at("vpc"));
    s.port = PortFromJson(j.at("port"));
    for (const auto& p : j.value("interfaces", json::array())) {
      s.interfaces.push_back(PortFromJson(p));
    }
    for (const auto& p : j.value("extra_addresses", json::array())) {
      s.extra_addresses.push_back(PortFromJson(p));
    }
    s.root_volume_id = j.value("root_volume_id", "");
    s.root_size_bytes = j.value("root_size_bytes", int64_t(0));
    s.root_snapshot_id = j.value("root_snapshot_id", "");
    s.gpu_devices = j.value("gpu_devices", std::vector<std::string>{});
    for (const auto& m : j.value("volumes", json::array())) {
      ASSIGN_OR_RETURN(auto vm, VolumeMountFromJson(m));
      s.volumes.push_back(std::move(vm));
    }
    return s;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(fmt::format("Bad instance spec: {}", e.what()));
  }
}

int ServeHostAgent(int fd, Host& host) {
  // The agent lives and dies with kumod; the containers it started do not (liblxc daemonizes
  // their monitors), so instances outlive a kumod restart.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 1;
  // Programs the agent runs (cp, dnsmasq) must not hold kumod's end open after the agent dies.
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  std::string buf(kMaxMessage, '\0');
  for (;;) {
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) return 0;
    json req = json::parse(buf.begin(), buf.begin() + n, nullptr, false);
    json reply;
    if (req.is_discarded() || !req.is_object()) {
      reply = StatusJson(absl::InvalidArgumentError("Unreadable request"));
    } else {
      absl::StatusOr<json> r = absl::InternalError("unreached");
      try {
        r = Dispatch(host, req);
      } catch (const std::exception& e) {
        r = absl::InternalError(fmt::format("host agent: {}", e.what()));
      }
      reply = r.ok() ? json{{"ok", true}, {"result", *r}} : StatusJson(r.status());
    }
    std::string out = reply.dump(-1, ' ', false, json::error_handler_t::replace);
    if (send(fd, out.data(), out.size(), MSG_NOSIGNAL) < 0) return 0;
  }
}

std::unique_ptr<Host> NewAgentClient(std::string exe, std::vector<std::string> args) {
  return std::make_unique<AgentClient>(std::move(exe), std::move(args));
}

}  // namespace kumo::host
