// The console's static site: what each /console path answers, from a console dir made here.
#include "api/console_site.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace kumo::api {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Header(const HttpResponse& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "";
}

void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

class ConsoleSiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "console_site_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    dir_ = root_ / "console";
    Write(dir_ / "index.html", "<html><select id=\"region\"><!--kumo:regions--></select></html>\n");
    Write(dir_ / "assets/app-abc.js", "console.log('kumo');\n");
    Write(dir_ / "favicon.svg", "<svg/>");
    Write(root_ / "secret.txt", "outside\n");
    fs::create_symlink(root_ / "secret.txt", dir_ / "secret.txt");
    fs::create_directory_symlink(root_, dir_ / "up");
  }
  void TearDown() override { fs::remove_all(root_); }

  ConsoleSite Load() {
    auto site = ConsoleSite::Load(dir_.string(), {"eu-west-1", "us-east-1", "x<&\"y"});
    EXPECT_TRUE(site.ok()) << site.status();
    return site.ok() ? *std::move(site) : ConsoleSite();
  }

  static std::optional<HttpResponse> Get(const ConsoleSite& site, std::string_view path,
                                         std::string_view method = "GET") {
    auth::HttpRequestView r;
    r.method = method;
    r.path = path;
    return site.Handle(r);
  }

  fs::path root_;
  fs::path dir_;
};

TEST_F(ConsoleSiteTest, LoadsRegularFilesOnly) {
  ConsoleSite site = Load();
  EXPECT_TRUE(site.loaded());
  EXPECT_EQ(site.file_count(), 3u);  // index.html, assets/app-abc.js, favicon.svg
}

TEST_F(ConsoleSiteTest, RedirectsTheBarePath) {
  auto r = Get(Load(), "/console");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 301);
  EXPECT_EQ(Header(*r, "Location"), "/console/");
}

TEST_F(ConsoleSiteTest, IndexListsTheRegionsHomeFirst) {
  ConsoleSite site = Load();
  for (std::string_view path : {"/console/", "/console/index.html"}) {
    auto r = Get(site, path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->content_type, "text/html;charset=utf-8");
    EXPECT_EQ(r->body,
              "<html><select id=\"region\">"
              "<option value=\"eu-west-1\" selected>eu-west-1</option>"
              "<option value=\"us-east-1\">us-east-1</option>"
              "<option value=\"x&lt;&amp;&quot;y\">x&lt;&amp;&quot;y</option>"
              "</select></html>\n");
    EXPECT_EQ(Header(*r, "Cache-Control"), "no-cache");
    EXPECT_EQ(Header(*r, "X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(Header(*r, "Referrer-Policy"), "no-referrer");
    EXPECT_EQ(Header(*r, "X-Frame-Options"), "DENY");
    EXPECT_THAT(Header(*r, "Content-Security-Policy"), HasSubstr("default-src 'self'"));
    EXPECT_THAT(Header(*r, "Content-Security-Policy"), HasSubstr("frame-ancestors 'none'"));
  }
}

TEST_F(ConsoleSiteTest, HashedAssetsAreImmutable) {
  auto r = Get(Load(), "/console/assets/app-abc.js");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "console.log('kumo');\n");
  EXPECT_EQ(r->content_type, "text/javascript;charset=utf-8");
  EXPECT_EQ(Header(*r, "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(Header(*r, "X-Content-Type-Options"), "nosniff");
}

TEST_F(ConsoleSiteTest, OtherFilesAreRevalidated) {
  auto r = Get(Load(), "/console/favicon.svg");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->content_type, "image/svg+xml");
  EXPECT_EQ(Header(*r, "Cache-Control"), "no-cache");
}

TEST_F(ConsoleSiteTest, HeadAnswersLikeGet) {
  // The HTTP server drops the body of a HEAD answer; the headers are GET's.
  auto r = Get(Load(), "/console/assets/app-abc.js", "HEAD");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->content_type, "text/javascript;charset=utf-8");
}

TEST_F(ConsoleSiteTest, MissingFilesAreNotFound) {
  ConsoleSite site = Load();
  for (std::string_view path : {"/console/nope.js", "/console/assets/", "/console/assets"}) {
    auto r = Get(site, path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_EQ(r->content_type, "text/plain;charset=utf-8");
    EXPECT_THAT(r->body, HasSubstr("Not found"));
    EXPECT_EQ(Header(*r, "Cache-Control"), "no-cache");
  }
}

TEST_F(ConsoleSiteTest, NothingOutsideTheDirIsServed) {
  ConsoleSite site = Load();
  for (std::string_view path :
       {"/console/../etc/passwd", "/console/../../../../etc/passwd", "/console/%2e%2e/etc/passwd",
        "/console/..%2F..%2Fetc%2Fpasswd", "/console//etc/passwd", "/console/secret.txt",
        "/console/up/secret.txt", "/console/up/console/index.html", "/console/assets/../../x",
        "/console/%zz"}) {
    auto r = Get(site, path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_THAT(r->body, Not(HasSubstr("outside"))) << path;
  }
}

TEST_F(ConsoleSiteTest, OnlyGetAndHead) {
  for (std::string_view method : {"POST", "PUT", "DELETE"}) {
    auto r = Get(Load(), "/console/", method);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405) << method;
    EXPECT_THAT(Header(*r, "Allow"), HasSubstr("GET"));
    EXPECT_EQ(Header(*r, "X-Frame-Options"), "DENY");
  }
}

TEST_F(ConsoleSiteTest, OtherPathsAreNotTheConsoles) {
  ConsoleSite site = Load();
  for (std::string_view path : {"/", "/healthz", "/consoles", "/console.html", "/admin/console"}) {
    EXPECT_FALSE(Get(site, path)) << path;
    EXPECT_FALSE(Get(site, path, "POST")) << path;
  }
}

TEST_F(ConsoleSiteTest, LoadNeedsAnIndex) {
  fs::remove(dir_ / "index.html");
  EXPECT_FALSE(ConsoleSite::Load(dir_.string(), {"eu-west-1"}).ok());
  EXPECT_FALSE(ConsoleSite::Load((root_ / "missing").string(), {"eu-west-1"}).ok());
}

TEST(ConsoleSiteUnbuiltTest, SaysHowToBuildIt) {
  ConsoleSite site;
  EXPECT_FALSE(site.loaded());
  for (std::string_view path : {"/console", "/console/", "/console/assets/app.js"}) {
    auth::HttpRequestView req;
    req.method = "GET";
    req.path = path;
    auto r = site.Handle(req);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404);
    EXPECT_EQ(r->content_type, "text/plain;charset=utf-8");
    EXPECT_THAT(r->body, HasSubstr("The console is not built: build it with scripts/build.sh "
                                   "(needs npm)"));
    EXPECT_EQ(Header(*r, "X-Content-Type-Options"), "nosniff");
  }
  auth::HttpRequestView other;
  other.method = "GET";
  other.path = "/";
  EXPECT_FALSE(site.Handle(other));
}

TEST(MyIpTest, LoopbackBrowsersAreTheHostOnThePublicNetwork) {
  EXPECT_EQ(HostSourceOf("100.64.3.0/24"), "100.64.3.1");
  EXPECT_EQ(HostSourceOf("not a cidr"), "");
  auto body = [](const HttpResponse& r) { return nlohmann::json::parse(r.body); };
  EXPECT_EQ(body(MyIpResponse("127.0.0.1", "100.64.3.1"))["SourceIp"], "100.64.3.1");
  EXPECT_EQ(body(MyIpResponse("::1", "100.64.3.1"))["FromThisHost"], true);
  EXPECT_EQ(body(MyIpResponse("192.0.2.7", "100.64.3.1"))["SourceIp"], "192.0.2.7");
  EXPECT_EQ(body(MyIpResponse("127.0.0.1", ""))["SourceIp"], "127.0.0.1");
  EXPECT_TRUE(body(MyIpResponse("2001:db8::7", "100.64.3.1"))["SourceIp"].is_null());
  EXPECT_EQ(body(MyIpResponse("192.0.2.7", ""))["FromThisHost"], false);
}

}  // namespace
}  // namespace kumo::api
