// Job processes are forked from a job server, a small process the worker starts once with an
// empty environment (`betterdev job-server`), before a job arrives: it holds no secret (no API
// key, no database handle, no other user's file), and forking it stays cheap (no exec per job).
//
// Per job, the worker sends the job's settings and two descriptors over a Unix socket: the
// input file (opened by the worker) and the write end of the pipe the job process answers on
// (the protocol of job_process.hpp). The server forks; the child enters the sandbox
// (sandbox/), then reads the input from its descriptor. The server answers the child's pid and
// a pidfd for it, then its wait status when it ends. One job at a time per server.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "ingest/job_process.hpp"

namespace betterdev::ingest {

struct JobRequest {
  ExtractJobSpec spec;
  uint64_t memory_limit_bytes = 0;  // RLIMIT_AS of the job process; 0: none
  bool idle_scheduling = false;     // SCHED_IDLE
  bool sandbox = true;              // false: no confinement (benchmarks of its cost)
};

// A job process that runs. Kill it through `Kill` (a pidfd: never another process that reused
// the pid).
struct RunningJob {
  pid_t pid = -1;
  int pidfd = -1;
  int output = -1;  // read end of the job's protocol pipe
};

class JobServer {
 public:
  // Starts `argv` (normally {SelfExe(), "job-server"}) with only `env` ("NAME=value") as its
  // environment; "--socket-fd N" is appended.
  static Result<std::unique_ptr<JobServer>> Start(std::vector<std::string> argv, std::vector<std::string> env);
  ~JobServer();  // closes the socket, kills the server (and with it a job still running) and reaps it
  JobServer(const JobServer&) = delete;
  JobServer& operator=(const JobServer&) = delete;

  // The confinement the server found in the kernel ("landlock v7, seccomp"), for the log.
  const std::string& sandbox() const { return sandbox_; }
  pid_t pid() const { return pid_; }

  // Starts one job on `input_fd` (not taken over). Unavailable when the server is gone (start
  // another).
  Result<RunningJob> Run(const JobRequest& request, int input_fd);
  // The job's wait status once it ended, waiting up to `timeout_ms`; nullopt while it runs.
  // Unavailable when the server is gone.
  Result<std::optional<int>> Wait(const RunningJob& job, int timeout_ms);
  static void Kill(const RunningJob& job);
  static void Close(RunningJob& job);  // closes the job's descriptors

 private:
  JobServer(pid_t pid, int sock, std::string sandbox) : pid_(pid), sock_(sock), sandbox_(std::move(sandbox)) {}
  pid_t pid_;
  int sock_;
  std::string sandbox_;
};

// The server's main loop (`betterdev job-server --socket-fd N`): serves until the worker closes
// the socket. Returns the exit code.
int RunJobServer(int socket_fd);

}  // namespace betterdev::ingest
