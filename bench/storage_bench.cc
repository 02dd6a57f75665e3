// Volume costs on this host, through kumo's disk library: N rounds of
//   format      CreateExt4Image (mkfs.ext4) of a fresh sparse volume
//   template    the same volume as a hole-preserving copy of a formatted template (what
//               LoopDisks does on launch, so that no program runs on the launch path)
//   mount       loop-mount it
//   write       100 MB of data inside, synced
//   snapshot    SnapshotImage while mounted (frozen for the copy)
//   unmount
// plus the bytes the volume and its snapshot occupy. Needs root. Prints JSON with medians (ms)
// and the format/template ratio measured in the same run.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "host/storage/disks.h"

using Clock = std::chrono::steady_clock;
namespace kh = kumo::host;

int main(int argc, char** argv) {
  CLI::App app{"Volume create/mount/snapshot benchmark"};
  int n = 5;
  int64_t gib = 8;
  int64_t write_mb = 100;
  app.add_option("-n", n, "Rounds");
  app.add_option("--size-gib", gib, "Volume size");
  app.add_option("--write-mb", write_mb, "Data written before the snapshot");
  CLI11_PARSE(app, argc, argv);

  char tmpl[] = "/var/tmp/kumo-storage-bench-XXXXXX";
  if (!mkdtemp(tmpl)) return 1;
  std::string dir = tmpl;
  int64_t size = gib << 30;
  std::map<std::string, std::vector<double>> ms;
  int64_t volume_bytes = 0, snapshot_bytes = 0;
  auto step = [&](const char* name, auto fn) {
    auto t0 = Clock::now();
    absl::Status st = fn();
    ms[name].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (!st.ok()) {
      std::cerr << name << ": " << st << "\n";
      std::exit(1);
    }
  };
  std::string templ = dir + "/template.img";
  if (auto st = kh::CreateExt4Image(templ, size, 0, 0); !st.ok()) {
    std::cerr << st << "\n";
    return 1;
  }
  std::string chunk(1 << 20, 'x');
  for (int i = 0; i < n; ++i) {
    std::string fresh = dir + "/fresh" + std::to_string(i) + ".img";
    std::string vol = dir + "/vol" + std::to_string(i) + ".img";
    std::string mnt = dir + "/mnt" + std::to_string(i);
    std::string snap = dir + "/snap" + std::to_string(i) + ".img";
    step("format", [&] { return kh::CreateExt4Image(fresh, size, 0, 0); });
    step("template", [&] { return kh::CopyImage(templ, vol); });
    step("mount", [&] { return kh::MountImage(vol, mnt); });
    step("write", [&] {
      int fd = open((mnt + "/data").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      for (int64_t m = 0; fd >= 0 && m < write_mb; ++m) {
        if (write(fd, chunk.data(), chunk.size()) != ssize_t(chunk.size())) break;
      }
      bool ok = fd >= 0 && fsync(fd) == 0;
      if (fd >= 0) close(fd);
      return ok ? absl::OkStatus() : absl::InternalError("write failed");
    });
    absl::StatusOr<int64_t> bytes;
    step("snapshot", [&] {
      bytes = kh::SnapshotImage(vol, mnt, snap);
      return bytes.status();
    });
    snapshot_bytes = *bytes;
    step("unmount", [&] { return kh::Unmount(mnt, false); });
    volume_bytes = kh::StatImage(vol)->allocated_bytes;
  }
  std::filesystem::remove_all(dir);

  nlohmann::json out = {{"rounds", n}, {"size_gib", gib}, {"write_mb", write_mb}};
  for (auto& [name, v] : ms) {
    std::sort(v.begin(), v.end());
    out["median_ms"][name] = v[v.size() / 2];
  }
  out["format_over_template"] =
      out["median_ms"]["format"].get<double>() / out["median_ms"]["template"].get<double>();
  out["volume_mib"] = volume_bytes >> 20;
  out["snapshot_mib"] = snapshot_bytes >> 20;
  std::cout << out.dump(1) << "\n";
}
