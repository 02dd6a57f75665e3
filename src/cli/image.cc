// kumo image import|list: operator images in the host-wide image store (see services/images.h).
// Import extracts into a hidden temporary directory and renames it into place, so a daemon never
// sees half an image.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "common/clock.h"
#include "daemon/data_dir.h"
#include "services/images.h"

namespace kumo::cli {
namespace {

using nlohmann::json;

int RunTar(const std::string& tarball, const std::string& into) {
  pid_t pid = fork();
  if (pid == 0) {
    // --numeric-owner keeps the rootfs's own uids (the host's names would remap them).
    execlp("tar", "tar", "--numeric-owner", "-xpf", tarball.c_str(), "-C", into.c_str(),
           static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace

void AddImageCommands(CLI::App& app, Globals& g) {
  auto* image = app.add_subcommand("image", "Operator images in the host-wide image store");
  image->require_subcommand(1);
  static std::string image_dir = "/var/lib/kumo/images";
  image->add_option("--image-dir", image_dir, "The image store (kumod --image-dir)");

  auto* import = image->add_subcommand("import", "Register a root filesystem tarball as an image");
  static std::string name, tarball, description, login_user = "admin";
  import->add_option("name", name, "Image name (3-128 characters)")->required();
  import->add_option("rootfs", tarball, "Root filesystem tarball (tar, tar.gz, tar.xz)")
      ->required()
      ->check(CLI::ExistingFile);
  import->add_option("--description", description, "Description");
  import->add_option("--login-user", login_user, "The user SSH logins use (default admin)");
  import->callback([] {
    if (!services::ValidImageName(name)) {
      Fail("Image names are 3-128 characters of letters, digits and ()[] .-'@_");
}
if (auto st = daemon::MakeDirs(image_dir); !st.ok()) Fail(std::string(st.message()));
std::string final_dir = image_dir + "/" + name;
struct stat st;
if (stat(final_dir.c_str(), &st) == 0) Fail("An image named '" + name + "' already exists");
std::string tmp = image_dir + "/.import-" + name + "-" + std::to_string(getpid());
if (mkdir(tmp.c_str(), 0755) != 0 || mkdir((tmp + "/rootfs").c_str(), 0755) != 0) {
  Fail("Cannot create " + tmp);
}
auto cleanup = [&] {
  std::string cmd = "rm -rf '" + tmp + "'";
  (void)system(cmd.c_str());
};
if (RunTar(tarball, tmp + "/rootfs") != 0) {
  cleanup();
  Fail("tar could not extract " + tarball);
}
json meta = {{"name", name},
             {"description", description},
             {"architecture", "x86_64"},
             {"created", FormatIso8601(std::chrono::system_clock::now())},
             {"login_user", login_user},
             {"root_size_gib", 8}};
{
  std::ofstream out(tmp + "/image.json");
  out << meta.dump(2) << "\n";
}
if (rename(tmp.c_str(), final_dir.c_str()) != 0) {
  cleanup();
  Fail("Cannot move the image into place (another import of the same name?)");
}
std::cout << json{{"ImageId", services::ImageIdForName(name)}, {"Name", name}}.dump(2) << std::endl;
}  // namespace kumo::cli
);

image->add_subcommand("list", "List the images kumod registers")->callback([] {
  json out = json::array();
  for (const auto& img : services::ImageStore(image_dir).List()) {
    out.push_back({{"ImageId", img.id},
                   {"Name", img.name},
                   {"Description", img.description},
                   {"LoginUser", img.login_user},
                   {"RootFs", img.rootfs}});
  }
  std::cout << out.dump(2) << std::endl;
});
(void)g;
}

}  // namespace kumo::cli
