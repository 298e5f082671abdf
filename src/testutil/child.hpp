// For tests: a server started as a child process that prints one line when it is ready (its
// port, say); killed with the test if the test dies, stopped by Stop().
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace betterdev::testutil {

class ChildServer {
 public:
  // Runs argv[0] (looked up in PATH) and waits up to 20 s for the first line of its stdout.
  void Start(const std::vector<std::string>& argv) {
    std::vector<char*> args;  // built before fork: the child only calls async-signal-safe functions
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int out[2];
    if (::pipe(out) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a test that aborts leaves no server behind
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    ::close(out[1]);
    pollfd p{out[0], POLLIN, 0};
    while (line_.find('\n') == std::string::npos && ::poll(&p, 1, 20000) > 0) {
      char buf[256];
      const ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      line_.append(buf, static_cast<size_t>(n));
    }
    ::close(out[0]);
  }
  ~ChildServer() { Stop(); }

  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // What it printed first (empty when it did not start).
  const std::string& line() const { return line_; }

 private:
  pid_t pid_ = -1;
  std::string line_;
};

}  // namespace betterdev::testutil
