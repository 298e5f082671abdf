#include "queue/redis/bullmq_scripts.hpp"


#include <charconv>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/random.hpp"

namespace betterdev::queue {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kIncludeMarker = "--- @include \"";

Result<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("cannot read BullMQ script " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Appends `file`'s text with its includes expanded; `seen` holds the files already included
// into this script.
Status Expand(const fs::path& file, std::set<fs::path>& seen, std::string& out, int depth) {
  if (depth > 32) return Status::InvalidArgument("BullMQ script includes nest too deep at " + file.string());
  auto text = ReadFile(file);
  if (!text.ok()) return text.status();
  std::string_view rest = *text;
  while (!rest.empty()) {
    const size_t eol = rest.find('\n');
    const std::string_view line = rest.substr(0, eol == std::string_view::npos ? rest.size() : eol + 1);
    rest.remove_prefix(line.size());
    const size_t marker = line.find(kIncludeMarker);
    if (marker == std::string_view::npos || line.find_first_not_of(" \t") != marker) {
      out.append(line);
      continue;
    }
    const std::string_view target = line.substr(marker + kIncludeMarker.size());
    const size_t quote = target.find('"');
    if (quote == std::string_view::npos || quote == 0)
      return Status::InvalidArgument("malformed @include in " + file.string() + ": " + std::string(line));
    const fs::path included = (file.parent_path() / (std::string(target.substr(0, quote)) + ".lua")).lexically_normal();
    if (!seen.insert(included).second) continue;  // each file once per script
    if (!fs::is_regular_file(included))
      return Status::InvalidArgument(file.string() + " includes " + included.string() + ", which does not exist");
    BD_RETURN_IF_ERROR(Expand(included, seen, out, depth + 1));
    if (!out.empty() && out.back() != '\n') out.push_back('\n');
  }
  return Status::Ok();
}


}  // namespace

Result<BullmqScripts> BullmqScripts::Load(const std::string& package_dir) {
  BullmqScripts out;
  const fs::path root(package_dir);
  auto manifest = ReadFile(root / "package.json");
  if (!manifest.ok()) return Status::InvalidArgument("no bullmq package at " + package_dir + " (no package.json)");
  const nlohmann::json j = nlohmann::json::parse(*manifest, nullptr, false);
  if (!j.is_object() || j.value("name", "") != "bullmq" || !j.contains("version") || !j["version"].is_string())
    return Status::InvalidArgument(package_dir + " does not hold the bullmq package");
  out.version_ = j["version"].get<std::string>();
  const fs::path commands = root / "dist" / "cjs" / "commands";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(commands, ec)) {
    const fs::path& path = entry.path();
    if (!entry.is_regular_file() || path.extension() != ".lua") continue;
    const std::string stem = path.stem().string();  // "moveToFinished-14"
    const size_t dash = stem.rfind('-');
    int keys = -1;
    if (dash != std::string::npos) std::from_chars(stem.data() + dash + 1, stem.data() + stem.size(), keys);
    if (dash == std::string::npos || dash == 0 || keys < 0)
      return Status::InvalidArgument("BullMQ command without its key count in the name: " + path.string());
    BullmqScript script;
    script.name = stem.substr(0, dash);
    script.keys = keys;
    std::set<fs::path> seen;
    BD_RETURN_IF_ERROR(Expand(path, seen, script.body, 0));
    script.sha1 = redis::Script::Sha1Of(script.body);
    out.scripts_.emplace(script.name, std::move(script));
  }
  if (ec) return Status::InvalidArgument("cannot list BullMQ's scripts in " + commands.string() + ": " + ec.message());
  if (out.scripts_.empty()) return Status::InvalidArgument("no BullMQ scripts in " + commands.string());
  return out;
}

Result<const BullmqScript*> BullmqScripts::Get(std::string_view name) const {
  auto it = scripts_.find(name);
  if (it == scripts_.end()) return Status::NotFound("BullMQ " + version_ + " has no script " + std::string(name));
  return &it->second;
}

}  // namespace betterdev::queue
