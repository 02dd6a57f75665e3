// kumo image import|list: operator images in the host-wide image store (see services/images.h).
// Import extracts into a hidden temporary directory and renames it into place, so a daemon never
// sees half an image.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
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

struct ImportArgs {
  std::string image_dir = "/var/lib/kumo/images";
  std::string name, tarball, description, login_user = "admin";
};

void Import(const ImportArgs& a) {
  if (!services::ValidImageName(a.name)) {
    Fail("Image names are 3-128 characters of letters, digits, spaces and ()[].-@_ and quotes");
  }
  if (auto st = daemon::MakeDirs(a.image_dir); !st.ok()) Fail(std::string(st.message()));
  std::string final_dir = a.image_dir + "/" + a.name;
  struct stat st;
  if (stat(final_dir.c_str(), &st) == 0) Fail("An image named '" + a.name + "' already exists");
  std::string tmp = a.image_dir + "/.import-" + std::to_string(getpid());
  // No shell anywhere: image names may hold quotes and spaces.
  auto fail = [&](const std::string& why) {
    std::error_code ec;
    std::filesystem::remove_all(tmp, ec);
    Fail(why);
  };
  if (mkdir(tmp.c_str(), 0755) != 0 || mkdir((tmp + "/rootfs").c_str(), 0755) != 0) {
    fail("Cannot create " + tmp);
  }
  if (RunTar(a.tarball, tmp + "/rootfs") != 0) fail("tar could not extract " + a.tarball);
  json meta = {{"name", a.name},
               {"description", a.description},
               {"architecture", "x86_64"},
               {"created", FormatIso8601(std::chrono::system_clock::now())},
               {"login_user", a.login_user},
               {"root_size_gib", 8}};
  {
    std::ofstream out(tmp + "/image.json");
    out << meta.dump(2) << "\n";
    out.flush();
    if (!out) fail("Cannot write " + tmp + "/image.json");
  }
  if (rename(tmp.c_str(), final_dir.c_str()) != 0) {
    fail("Cannot move the image into place (another import of the same name?)");
  }
  std::cout << json{{"ImageId", services::ImageIdForName(a.name)}, {"Name", a.name}}.dump(2)
            << std::endl;
}

void List(const std::string& image_dir) {
  json out = json::array();
  for (const auto& img : services::ImageStore(image_dir).List()) {
    out.push_back({{"ImageId", img.id},
                   {"Name", img.name},
                   {"Description", img.description},
                   {"LoginUser", img.login_user},
                   {"RootFs", img.rootfs}});
  }
  std::cout << out.dump(2) << std::endl;
}

}  // namespace

void AddImageCommands(CLI::App& app, Globals&) {
  static ImportArgs args;
  auto* image = app.add_subcommand("image", "Operator images in the host-wide image store");
  image->require_subcommand(1);
  image->add_option("--image-dir", args.image_dir, "The image store (kumod --image-dir)");

  // Not named "import": clang-format reads that as a C++20 module import.
  auto* import_cmd =
      image->add_subcommand("import", "Register a root filesystem tarball as an image");
  import_cmd->add_option("name", args.name, "Image name (3-128 characters)")->required();
  import_cmd->add_option("rootfs", args.tarball, "Root filesystem tarball (tar, tar.gz, tar.xz)")
      ->required()
      ->check(CLI::ExistingFile);
  import_cmd->add_option("--description", args.description, "Description");
  import_cmd->add_option("--login-user", args.login_user,
                         "The user SSH logins use (default admin)");
  import_cmd->callback([] { Import(args); });

  image->add_subcommand("list", "List the images kumod registers")->callback([] {
    List(args.image_dir);
  });
}

}  // namespace kumo::cli
