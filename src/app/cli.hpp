// Command line: subcommands and every setting as a flag and a BETTERDEV_* environment variable
// (flags win). Unknown BETTERDEV_* variables and invalid values are errors that name the setting.
#pragma once

#include <string>
#include <vector>

#include "core/config.hpp"

namespace betterdev::app {

enum class Command { kNone, kServe, kApi, kMigrate };

struct Invocation {
  Command command = Command::kNone;
  Config config;
  int exit_code = 0;       // set when parsing already decided the outcome (help, errors)
  bool done = false;       // true: exit with exit_code without running a command
};

Invocation ParseCommandLine(int argc, char** argv);

}  // namespace betterdev::app
