#include "ingest/child_process.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

extern char** environ;

namespace betterdev::ingest {
namespace {

// Closes descriptors lo..hi in the child (async-signal-safe).
void CloseRange(int lo, int hi) {
  if (lo > hi) return;
  if (::syscall(SYS_close_range, static_cast<unsigned>(lo), static_cast<unsigned>(hi), 0u) == 0) return;
  for (int fd = lo; fd <= std::min(hi, 65535); ++fd) ::close(fd);
}

// Forks; the child sets itself up from `options` and runs `body`, which must not return
// (it execs or _exits).
template <typename Body>
Result<Child> Fork(const ChildOptions& options, Body&& body) {
  int pipe_fds[2] = {-1, -1};
  if (options.pipe_stdout && ::pipe2(pipe_fds, O_CLOEXEC) != 0)
    return Status::Internal(std::string("pipe: ") + std::strerror(errno));
  std::vector<int> keep = options.keep_fds;
  std::sort(keep.begin(), keep.end());
  uint64_t as_limit = options.address_space_limit_bytes;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  as_limit = 0;  // ASan and TSan reserve terabytes of address space for their shadow memory
#endif
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    if (pipe_fds[0] >= 0) {
      ::close(pipe_fds[0]);
      ::close(pipe_fds[1]);
    }
    return Status::Internal(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) _exit(127);  // the parent died before prctl took effect
    if (pipe_fds[1] >= 0 && ::dup2(pipe_fds[1], STDOUT_FILENO) < 0) _exit(127);
    // Nothing else of the parent's leaks into the child: not the listening socket (a worker
    // holding it would keep accepting for a server that is shutting down), not its databases.
    int next = STDERR_FILENO + 1;
    for (int fd : keep) {
      CloseRange(next, fd - 1);
      next = std::max(next, fd + 1);
      int flags = ::fcntl(fd, F_GETFD);
      if (flags >= 0) ::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
    }
    CloseRange(next, INT_MAX);
    if (options.own_process_group) ::setpgid(0, 0);
    if (options.idle_scheduling) {
      sched_param param{};
      ::sched_setscheduler(0, SCHED_IDLE, &param);
    }
    if (options.nice > 0) ::setpriority(PRIO_PROCESS, 0, ::getpriority(PRIO_PROCESS, 0) + options.nice);
    if (as_limit > 0) {
      struct rlimit rl {as_limit, as_limit};
      ::setrlimit(RLIMIT_AS, &rl);
    }
    body();
    _exit(127);
  }
  Child child;
  child.pid = pid;
  if (pipe_fds[0] >= 0) {
    ::close(pipe_fds[1]);
    child.stdout_read = pipe_fds[0];
  }
  return child;
}

}  // namespace

Result<Child> SpawnChild(const std::vector<std::string>& argv, const ChildOptions& options) {
  // Everything the child needs is prepared before fork: between fork and exec only
  // async-signal-safe calls are allowed (the parent may have other threads).
  std::vector<std::string> env_strings;
  if (!options.clear_env)
    for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  for (const std::string& e : options.extra_env) env_strings.push_back(e);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> argp;
  for (std::string& a : args) argp.push_back(a.data());
  argp.push_back(nullptr);
  return Fork(options, [&] { ::execve(argp[0], argp.data(), envp.data()); });
}

Result<Child> ForkChild(const std::function<int()>& body, const ChildOptions& options) {
  return Fork(options, [&] {
    int code = 127;
    try {
      code = body();
    } catch (...) {
    }
    _exit(code);
  });
}

uint64_t ResidentBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/statm");
  uint64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = ::sigdescr_np(sig);
    return "crashed (signal " + std::to_string(sig) + (name ? std::string(", ") + name : std::string()) + ")";
  }
  return "ended (status " + std::to_string(status) + ")";
}

std::string SelfExe() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : p.string();
}

}  // namespace betterdev::ingest
