// Starting and watching one child process with a pipe from its stdout. Linux only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.hpp"

namespace betterdev::ingest {

struct ChildOptions {
  uint64_t address_space_limit_bytes = 0;  // RLIMIT_AS; 0 = none (always none under ASan and TSan)
  std::vector<std::string> extra_env;      // "NAME=value", added to this process's environment
  bool clear_env = false;                  // true: `extra_env` is the whole environment
  int nice = 0;                            // added to the child's niceness (lower CPU priority)
  bool own_process_group = false;          // true: terminal signals (Ctrl-C) do not reach it
  bool idle_scheduling = false;            // SCHED_IDLE: runs only on CPU time nothing else wants
  bool pipe_stdout = true;                 // false: the child shares this process's stdout
  std::vector<int> keep_fds;               // descriptors the child inherits at the same number
};

struct Child {
  pid_t pid = -1;
  int stdout_read = -1;  // set when a pipe was made (close it when done)
};

// Starts `argv[0]` with `argv`. The child is killed when the calling thread's process dies
// (PR_SET_PDEATHSIG), so a killed worker leaves no orphaned job process behind.
Result<Child> SpawnChild(const std::vector<std::string>& argv, const ChildOptions& options);

// Runs `body` in a forked child (no exec) and _exits with what it returns. Only for a
// single-threaded caller: the child is a copy of the caller, with whatever locks other threads
// held at the fork. `extra_env` is ignored (set the environment before forking).
Result<Child> ForkChild(const std::function<int()>& body, const ChildOptions& options);

// Resident memory of a process in bytes, 0 when unknown.
uint64_t ResidentBytes(pid_t pid);

// "exited with code 3", "crashed (signal 11, Segmentation fault)".
std::string DescribeWaitStatus(int status);

// The path of the running executable.
std::string SelfExe();

}  // namespace betterdev::ingest
