// BullMQ's Lua scripts, read at run time from an installed `bullmq` npm package, so that the
// Redis queue runs BullMQ's own scripts and stays in step with the version installed (the way
// BullMQ's Python, Rust, Elixir and .NET ports do); nothing of BullMQ's code is kept in this
// repository. The package ships each command as dist/cjs/commands/<name>-<keys>.lua whose
// `--- @include "<path>"` lines name other files (relative to the including file, ".lua"
// appended); a script is its command with every include replaced by the included file, itself
// expanded, depth first, each file at most once (a second include of it is dropped). The key
// count comes from the file name, never from a table here: it changes between releases.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "core/status.hpp"
#include "redis/redis_client.hpp"

namespace betterdev::queue {

// A script is a redis::Script: its key count from the file name, its SHA-1 what EVALSHA names.
using BullmqScript = redis::Script;

class BullmqScripts {
 public:
  // Reads every command of the package at `package_dir` (the folder holding bullmq's
  // package.json). InvalidArgument naming the file when one is missing, unreadable or
  // malformed (an include that names no file, a file name without its key count).
  static Result<BullmqScripts> Load(const std::string& package_dir);

  // NotFound naming the script when the package has no such command.
  Result<const BullmqScript*> Get(std::string_view name) const;
  const std::string& version() const { return version_; }  // the package's "version"
  size_t size() const { return scripts_.size(); }
  const std::map<std::string, BullmqScript, std::less<>>& all() const { return scripts_; }

 private:
  std::string version_;
  std::map<std::string, BullmqScript, std::less<>> scripts_;
};

}  // namespace betterdev::queue
