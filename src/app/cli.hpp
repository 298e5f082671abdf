// Command line: subcommands and every setting as a flag and a BETTERDEV_* environment variable
// (flags win). Unknown BETTERDEV_* variables and invalid values are errors that name the setting.
#pragma once

#include <string>
#include <vector>

#include "app/eval.hpp"
#include "core/config.hpp"

namespace betterdev::app {

enum class Command { kNone, kServe, kApi, kWorker, kMigrate, kExtract, kIngest, kEval, kJobServer };

struct Invocation {
  Command command = Command::kNone;
  Config config;
  std::vector<std::string> paths;  // extract: the file; ingest: files and folders
  std::string content_type;        // extract: skip detection
  int events_fd = -1;              // worker: where to write events (set by the supervisor)
  int wake_fd = -1;                // worker: a byte arrives here when a job is enqueued
  int worker_index = 0;            // worker: its slot under the supervisor
  int socket_fd = -1;              // job-server: the worker's end (set by the worker)
  std::string server_url = "http://127.0.0.1:8080";  // ingest
  std::string token;                                  // ingest
  EvalOptions eval;                                   // eval
  int exit_code = 0;       // set when parsing already decided the outcome (help, errors)
  bool done = false;       // true: exit with exit_code without running a command
};

Invocation ParseCommandLine(int argc, char** argv);

}  // namespace betterdev::app
