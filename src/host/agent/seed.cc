// First-boot seeding of an instance's root volume (the overlay's upper layer), done on the host
// before the first start so that boot does no key generation and login needs nothing from
// cloud-init: SSH host keys, the login key, the resolver, and the units an instance skips.
#include "host/agent/seed.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "common/encoding.h"
#include "common/files.h"
#include "common/hash.h"
#include "common/status_macros.h"
#include "crypto/keypair.h"

namespace kumo::host {
namespace {

// The upper layer is private to us at seeding time (the instance is not running), but it may
// hold a custom image's files, which its users control: a symlink or a whiteout where we need a
// directory is replaced, never followed, so nothing is written outside the layer. Parents that
// exist in the image are created with the image's owner and mode, because an upper-layer
// directory's attributes win over the image's in the merged view.
absl::Status MakeDirLike(const std::string& lower, const std::string& upper, const std::string& rel,
                         mode_t mode, uid_t uid, gid_t gid) {
  std::string path = upper;
  std::stringstream parts(rel);
  std::string part, sub;
  while (std::getline(parts, part, '/')) {
    if (part.empty()) continue;
    sub += "/" + part;
    path = upper + sub;
    struct stat st;
    if (lstat(path.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) continue;
      if (unlink(path.c_str()) != 0) {
        return absl::InternalError(fmt::format("unlink {} failed: {}", path, strerror(errno)));
      }
    }
    struct stat in_image;
    bool from_image = lstat((lower + sub).c_str(), &in_image) == 0 && S_ISDIR(in_image.st_mode);
    mode_t m = from_image ? (in_image.st_mode & 07777) : mode;
    if (mkdir(path.c_str(), m) != 0) {
      return absl::InternalError(fmt::format("mkdir {} failed: {}", path, strerror(errno)));
    }
    chmod(path.c_str(), m);  // not subject to the umask
    if (from_image) {
      if (lchown(path.c_str(), in_image.st_uid, in_image.st_gid) != 0) {
        return absl::InternalError(fmt::format("chown {} failed", path));
      }
    } else if (lchown(path.c_str(), uid, gid) != 0) {
      return absl::InternalError(fmt::format("chown {} failed", path));
    }
  }
  return absl::OkStatus();
}

// uid/gid -1: the writer's (root, who owns the image's files).
absl::Status WriteFile(const std::string& path, const std::string& content, mode_t mode, uid_t uid,
                       gid_t gid) {
  // A new inode each time: a (custom image's) symlink or hard link there is replaced, not
  // written through.
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::InternalError(fmt::format("unlink {} failed: {}", path, strerror(errno)));
  }
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return absl::InternalError(fmt::format("open {} failed: {}", path, strerror(errno)));
  bool ok = write(fd, content.data(), content.size()) == ssize_t(content.size());
  ok = ok && fchmod(fd, mode) == 0 && fchown(fd, uid, gid) == 0;
  close(fd);
  if (!ok) return absl::InternalError(fmt::format("write {} failed", path));
  return absl::OkStatus();
}

absl::Status Symlink(const std::string& target, const std::string& path, uid_t uid, gid_t gid) {
  unlink(path.c_str());
  if (symlink(target.c_str(), path.c_str()) != 0 || lchown(path.c_str(), uid, gid) != 0) {
    return absl::InternalError(fmt::format("symlink {} failed: {}", path, strerror(errno)));
  }
  return absl::OkStatus();
}

struct PasswdEntry {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
};

// The login user as the image defines it (never the host's passwd).
absl::StatusOr<PasswdEntry> FindUser(const std::string& rootfs, const std::string& user) {
  std::ifstream in(rootfs + "/etc/passwd");
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, ':');) f.push_back(x);
    if (f.size() >= 6 && f[0] == user) {
      try {
        return PasswdEntry{uid_t(std::stoul(f[2])), gid_t(std::stoul(f[3])), f[5]};
      } catch (...) {
        break;
      }
    }
  }
  return absl::NotFoundError(fmt::format("The image has no user '{}'", user));
}

// Units a container instance has no use for (devices are the host's) or that would make login
// wait; sshd is socket-activated instead of started at boot.
constexpr const char* kMaskedUnits[] = {
    "ssh.service",
    "systemd-udevd.service",
    "systemd-udev-trigger.service",
    "systemd-udevd-control.socket",
    "systemd-udevd-kernel.socket",
    "systemd-pstore.service",
    "e2scrub_reap.service",
    "dpkg-db-backup.timer",
    // Kernel filesystems an unprivileged container may not mount.
    "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount",
    "sys-kernel-config.mount",
};

// cloud-init's EC2 datasource, as on EC2, with what a container needs said explicitly:
// - ds-identify finds no EC2 hardware ids (no DMI in a container), so the datasource is pinned
//   (a single datasource plus None is used without detection) and strict_id is off;
// - the network is configured by Kumo before init runs (the VPC has no DHCP): hands off;
// - the SSH host key was seeded before the first start and the first login already trusts
//   it, so cloud-init keeps it (no deletion; the one key type sshd uses exists, so none is
//   generated) and prints its fingerprint to the console, as on EC2;
// - the locale is the image's (a minimal image has no locales to generate one from);
// - the image's login user is the default user that gets the key pair's public key.
std::string CloudInitConfig(const std::string& login_user) {
  std::string cfg = R"(# Written by Kumo at launch: the EC2 metadata service of this VPC.
datasource_list: [Ec2, None]
datasource:
  Ec2:
    metadata_urls: ["http://169.254.169.254"]
    strict_id: false
    timeout: 5
    max_wait: 30
network:
  config: disabled
ssh_deletekeys: false
ssh_genkeytypes: [ed25519]
locale: false
)";
  // The name comes from the image's metadata: anything but a plain user name stays out of YAML.
  bool plain =
      !login_user.empty() && login_user.size() <= 32 &&
      login_user.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") == std::string::npos;
  if (!plain) return cfg;
  return cfg + fmt::format(R"(system_info:
  default_user:
    name: {}
    lock_passwd: true
    gecos: Login user
    groups: [adm, sudo]
    sudo: ["ALL=(ALL) NOPASSWD:ALL"]
    shell: /bin/bash
)",
                           login_user);
}

}  // namespace

absl::Status SeedRootVolume(const SeedSpec& spec) {
  const std::string& up = spec.upper_dir;
  const std::string& lo = spec.rootfs;
  RETURN_IF_ERROR(MakeDirs(up));
  if (spec.id_base && chown(up.c_str(), spec.id_base, spec.id_base) != 0) {
    return absl::InternalError(fmt::format("chown {} failed", up));
  }
  // Files of ours belong to the container's root: the writer (root) when privileged, else the
  // host id container root maps to.
  const uid_t me = spec.id_base ? uid_t(spec.id_base) : uid_t(-1);
  const gid_t my_group = spec.id_base ? gid_t(spec.id_base) : gid_t(-1);
  RETURN_IF_ERROR(MakeDirLike(lo, up, "/etc/ssh/sshd_config.d", 0755, me, my_group));
  ASSIGN_OR_RETURN(auto host_key,
                   crypto::GenerateKeyPair(crypto::KeyType::kEd25519, crypto::KeyFormat::kPem,
                                           "root@" + spec.hostname));
  RETURN_IF_ERROR(
      WriteFile(up + "/etc/ssh/ssh_host_ed25519_key", host_key.private_key, 0600, me, my_group));
  RETURN_IF_ERROR(WriteFile(up + "/etc/ssh/ssh_host_ed25519_key.pub",
                            host_key.public_openssh + "\n", 0644, me, my_group));
  RETURN_IF_ERROR(WriteFile(up + "/etc/ssh/sshd_config.d/50-kumo.conf",
                            "# Written by Kumo at launch: this instance's own host key.\n"
                            "HostKey /etc/ssh/ssh_host_ed25519_key\n",
                            0644, me, my_group));
  // A machine id of its own, stable across reboots, as a VM's would be.
  RETURN_IF_ERROR(
      WriteFile(up + "/etc/machine-id", HexEncode(RandomBytes(16)) + "\n", 0444, me, my_group));
  RETURN_IF_ERROR(WriteFile(up + "/etc/resolv.conf",
                            fmt::format("# The VPC's resolver (Kumo)\nnameserver {}\nsearch {}\n",
                                        spec.dns_server, spec.dns_domain),
                            0644, me, my_group));
  // An image with cloud-init gets it pointed at Kumo's metadata service; one without still has
  // its login key (below).
  struct stat ci {};
  if (stat((lo + "/usr/bin/cloud-init").c_str(), &ci) == 0) {
    RETURN_IF_ERROR(MakeDirLike(lo, up, "/etc/cloud/cloud.cfg.d", 0755, me, my_group));
    RETURN_IF_ERROR(WriteFile(up + "/etc/cloud/cloud.cfg.d/90-kumo.cfg",
                              CloudInitConfig(spec.login_user), 0644, me, my_group));
  }
  // pam_nologin refuses every login but root's while /run/nologin exists, and it exists until
  // systemd-user-sessions runs, which cloud-init.service (Before=systemd-user-sessions) holds
  // back until the metadata is fetched: the first login would wait for cloud-init. The file is
  // for machines whose users log in on a console during boot; an instance's login is SSH.
  RETURN_IF_ERROR(MakeDirLike(lo, up, "/etc/tmpfiles.d", 0755, me, my_group));
  RETURN_IF_ERROR(Symlink("/dev/null", up + "/etc/tmpfiles.d/systemd-nologin.conf", me, my_group));

  RETURN_IF_ERROR(
      MakeDirLike(lo, up, "/etc/systemd/system/sockets.target.wants", 0755, me, my_group));
  for (const char* unit : kMaskedUnits) {
    RETURN_IF_ERROR(
        Symlink("/dev/null", fmt::format("{}/etc/systemd/system/{}", up, unit), me, my_group));
  }
  // Debian 12's ssh.socket (Accept=no) would start the masked ssh.service: an inetd-style pair
  // instead, each connection getting its own `sshd -i`. Neither waits for sysinit.target
  // (journald, its flush, tmpfiles: ~0.5 s of a container's boot), because sshd needs only the
  // root filesystem, which is there before init starts; login works while the rest boots.
  RETURN_IF_ERROR(WriteFile(up + "/etc/systemd/system/ssh.socket",
                            "# Written by Kumo: sshd on demand, listening from early boot.\n"
                            "[Unit]\nDescription=OpenBSD Secure Shell server socket\n"
                            "DefaultDependencies=no\n"
                            "Before=sockets.target shutdown.target\n"
                            "Conflicts=shutdown.target\n"
                            "ConditionPathExists=!/etc/ssh/sshd_not_to_be_run\n"
                            "[Socket]\nListenStream=22\nAccept=yes\n"
                            "[Install]\nWantedBy=sockets.target\n",
                            0644, me, my_group));
  RETURN_IF_ERROR(
      WriteFile(up + "/etc/systemd/system/ssh@.service",
                "[Unit]\nDescription=OpenBSD Secure Shell server per-connection daemon\n"
                "DefaultDependencies=no\nBefore=shutdown.target\nConflicts=shutdown.target\n"
                "[Service]\nExecStart=-/usr/sbin/sshd -i\nStandardInput=socket\n"
                "RuntimeDirectory=sshd\nRuntimeDirectoryPreserve=yes\n",
                0644, me, my_group));
  RETURN_IF_ERROR(Symlink("/etc/systemd/system/ssh.socket",
                          up + "/etc/systemd/system/sockets.target.wants/ssh.socket", me,
                          my_group));

  if (!spec.login_user.empty() && !spec.public_key.empty()) {
    ASSIGN_OR_RETURN(auto user, FindUser(lo, spec.login_user));
    if (user.home.empty() || user.home[0] != '/' || user.home.find("..") != std::string::npos) {
      return absl::FailedPreconditionError(fmt::format("Odd home for {}", spec.login_user));
    }
    uid_t uid = user.uid + spec.id_base;
    gid_t gid = user.gid + spec.id_base;
    RETURN_IF_ERROR(MakeDirLike(lo, up, user.home + "/.ssh", 0700, uid, gid));
    RETURN_IF_ERROR(WriteFile(up + user.home + "/.ssh/authorized_keys", spec.public_key + "\n",
                              0600, uid, gid));
  }
  return absl::OkStatus();
}

}  // namespace kumo::host
