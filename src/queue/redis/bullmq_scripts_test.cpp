// The loader against the installed bullmq package (deps/bullmq, scripts/setup.sh): every
// command, expanded, is the script BullMQ itself ships fully expanded in dist/cjs/scripts/*.js,
// with the same key count. And against small packages written here, for the rules themselves.
#include "queue/redis/bullmq_scripts.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "testutil/testutil.hpp"

namespace betterdev::queue {
namespace {

namespace fs = std::filesystem;

const std::string kPackage = BETTERDEV_BULLMQ_DIR;

std::string Read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The script text BullMQ's build wrote into a .js module: a template literal, with blank lines
// dropped.
std::string ShippedScript(const std::string& js) {
  const std::string start = "const content = `";
  const size_t from = js.find(start);
  const size_t to = js.find("`;\n", from);
  if (from == std::string::npos || to == std::string::npos) return "";
  std::string out;
  for (size_t i = from + start.size(); i < to; ++i) {
    if (js[i] == '\\' && i + 1 < to) ++i;  // \` \\ \$ in a template literal
    out.push_back(js[i]);
  }
  return out;
}

std::string WithoutBlankLines(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    out += line + "\n";
  }
  return out;
}

TEST(BullmqScripts, EveryCommandExpandsToTheScriptBullmqShips) {
  auto scripts = BullmqScripts::Load(kPackage);
  ASSERT_TRUE(scripts.ok()) << scripts.status().ToString();
  EXPECT_EQ(scripts->version(), "6.7.0");
  const fs::path shipped = fs::path(kPackage) / "dist" / "cjs" / "scripts";
  int compared = 0;
  for (const auto& [name, script] : scripts->all()) {
    const fs::path js = shipped / (name + "-" + std::to_string(script.keys) + ".js");
    ASSERT_TRUE(fs::exists(js)) << js << ": the key count in the command's name differs from the shipped script's";
    const std::string module = Read(js);
    EXPECT_NE(module.find("keys: " + std::to_string(script.keys) + ","), std::string::npos) << name;
    EXPECT_EQ(WithoutBlankLines(script.body), WithoutBlankLines(ShippedScript(module))) << name;
    EXPECT_EQ(script.body.find("@include"), std::string::npos) << name;
    EXPECT_EQ(script.sha1.size(), 40u);
    ++compared;
  }
  EXPECT_GE(compared, 60);
  // What 6.7.0 changed (the issue's example): moveToDelayed takes 11 keys, not 6.2.0's 12.
  auto delayed = scripts->Get("moveToDelayed");
  ASSERT_TRUE(delayed.ok());
  EXPECT_EQ((*delayed)->keys, 11);
  EXPECT_EQ(scripts->Get("noSuchCommand").status().code(), StatusCode::kNotFound);
}

class FakePackage : public ::testing::Test {
 protected:
  void Write(const std::string& relative, const std::string& text) {
    const fs::path path = fs::path(dir.path()) / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  void SetUp() override { Write("package.json", R"({"name":"bullmq","version":"9.9.9"})"); }
  testutil::TempDir dir;
};

TEST_F(FakePackage, IncludesExpandDepthFirstOnceEachRelativeToTheirFile) {
  Write("dist/cjs/commands/go-2.lua",
        "-- go\n--- @include \"includes/a\"\n--- @include \"includes/b\"\nreturn a() + b()\n");
  Write("dist/cjs/commands/includes/a.lua", "--- @include \"c\"\nlocal function a() return c() end\n");
  Write("dist/cjs/commands/includes/b.lua", "--- @include \"c\"\nlocal function b() return 2 end\n");
  Write("dist/cjs/commands/includes/c.lua", "local function c() return 1 end");  // no final newline
  auto scripts = BullmqScripts::Load(dir.path());
  ASSERT_TRUE(scripts.ok()) << scripts.status().ToString();
  EXPECT_EQ(scripts->version(), "9.9.9");
  auto go = scripts->Get("go");
  ASSERT_TRUE(go.ok());
  EXPECT_EQ((*go)->keys, 2);
  EXPECT_EQ((*go)->body,
            "-- go\n"
            "local function c() return 1 end\n"
            "local function a() return c() end\n"
            "local function b() return 2 end\n"
            "return a() + b()\n");
  EXPECT_EQ((*go)->sha1, "9c5ee5066e64724ccb59595afcc8c6f1944d1158");  // sha1sum of that text: what Redis names it
}

TEST_F(FakePackage, AMissingIncludeOrKeyCountIsAnErrorNamingTheFile) {
  Write("dist/cjs/commands/go-1.lua", "--- @include \"includes/missing\"\n");
  auto missing = BullmqScripts::Load(dir.path());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("includes/missing.lua"), std::string::npos) << missing.status().ToString();
  fs::remove(fs::path(dir.path()) / "dist/cjs/commands/go-1.lua");
  Write("dist/cjs/commands/go.lua", "return 1\n");
  auto unnumbered = BullmqScripts::Load(dir.path());
  EXPECT_EQ(unnumbered.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unnumbered.status().message().find("go.lua"), std::string::npos);
  EXPECT_EQ(BullmqScripts::Load(dir.path() + "/nowhere").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace betterdev::queue
