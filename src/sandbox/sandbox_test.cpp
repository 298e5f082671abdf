// The sandbox's set-up itself, exercised with the operations it forbids: a forked child enters
// it and tries them, and reports what happened.
#include "sandbox/sandbox.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "testutil/testutil.hpp"

namespace betterdev::sandbox {
namespace {

// Runs `probes` in a child inside the sandbox (after `before`, outside it) and answers
// name -> "ok" or the errno name of the failure.
std::map<std::string, std::string> TryInside(const Policy& policy, const std::function<void()>& before,
                                             const std::map<std::string, std::function<int()>>& probes) {
  int p[2];
  EXPECT_EQ(::pipe(p), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    before();
    if (!Enter(policy).ok()) _exit(3);
    std::string out;
    for (const auto& [name, probe] : probes) {
      errno = 0;
      const int rc = probe();
      out += name + "=" + (rc >= 0 ? std::string("ok") : std::string(strerrorname_np(errno))) + "\n";
    }
    (void)!::write(p[1], out.data(), out.size());
    _exit(0);
  }
  ::close(p[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  ::close(p[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child could not enter the sandbox";
  std::map<std::string, std::string> results;
  for (size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1) {
    const std::string line = text.substr(at, nl - at);
    results[line.substr(0, line.find('='))] = line.substr(line.find('=') + 1);
  }
  return results;
}

int OpenRead(const std::string& path) { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); }

TEST(Sandbox, TheKernelOffersLandlockAndSeccomp) {
  // The machines this runs on have both; without them the job process is confined by less
  // than docs/architecture.md promises, which must not pass unnoticed.
  const Report r = Probe();
  EXPECT_GE(r.landlock_abi, 1) << r.Describe();
  EXPECT_TRUE(r.seccomp) << r.Describe();
}

TEST(Sandbox, AJobProcessCannotReachTheDataDirectoryTheNetworkOrOtherPrograms) {
  testutil::TempDir data;
  std::filesystem::create_directories(data.File("blobs/ab"));
  std::ofstream(data.File("betterdev.db")) << "password hashes";
  std::ofstream(data.File("blobs/ab/other-users-file")) << "someone else's document";
  std::ofstream(data.File("input.pdf")) << "%PDF-1.4 the job's own input";
  int input = -1;
  const std::string db = data.File("betterdev.db");
  const auto r = TryInside(ParserPolicy(), [&] { input = OpenRead(data.File("input.pdf")); },
                           {
                               {"open database", [&] { return OpenRead(db); }},
                               {"open another blob", [&] { return OpenRead(data.File("blobs/ab/other-users-file")); }},
                               {"list the data directory", [&] { return OpenRead(data.path()); }},
                               {"create a file", [&] { return ::open(data.File("new").c_str(), O_CREAT | O_WRONLY, 0600); }},
                               {"write a system file", [&] { return ::open("/etc/hostname", O_WRONLY); }},
                               {"read the worker's environment", [&] { return OpenRead("/proc/" + std::to_string(::getppid()) + "/environ"); }},
                               {"reopen the input by path", [&] { return OpenRead("/proc/self/fd/" + std::to_string(input)); }},
                               {"tcp socket", [] { return ::socket(AF_INET, SOCK_STREAM, 0); }},
                               {"ipv6 socket", [] { return ::socket(AF_INET6, SOCK_DGRAM, 0); }},
                               {"unix socket", [] { return ::socket(AF_UNIX, SOCK_STREAM, 0); }},
                               {"socketpair", [] { int sv[2]; return ::socketpair(AF_UNIX, SOCK_STREAM, 0, sv); }},
                               {"exec a program", [] {
                                  char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
                                  char* envp[] = {nullptr};
                                  return ::execve("/bin/true", argv, envp);
                                }},
                               {"fork", [] {
                                  const pid_t child = ::fork();
                                  if (child == 0) _exit(0);
                                  return child < 0 ? -1 : 0;
                                }},
                               {"signal the parent", [] { return ::kill(::getppid(), 0); }},
                               // What a parser needs still works:
                               {"read the input it was given", [&] {
                                  char c;
                                  return ::pread(input, &c, 1, 0) == 1 ? 0 : -1;
                                }},
                               {"read a system library", [] { return OpenRead("/usr/lib/x86_64-linux-gnu/libc.so.6"); }},
                               {"read tesseract's data", [] { return OpenRead("/usr/share/tesseract-ocr"); }},
                               {"start a thread", [] {
                                  std::thread t([] {});
                                  t.join();
                                  return 0;
                                }},
                           });
  for (const char* denied : {"open database", "open another blob", "list the data directory", "create a file",
                             "write a system file", "read the worker's environment", "reopen the input by path"})
    EXPECT_EQ(r.at(denied), "EACCES") << denied;
  for (const char* denied : {"tcp socket", "ipv6 socket", "unix socket", "socketpair", "exec a program", "fork"})
    EXPECT_EQ(r.at(denied), "EPERM") << denied;
  if (Probe().landlock_abi >= 6) {
    EXPECT_EQ(r.at("signal the parent"), "EPERM");
  }
  for (const char* allowed : {"read the input it was given", "read a system library", "read tesseract's data", "start a thread"})
    EXPECT_EQ(r.at(allowed), "ok") << allowed;
}

TEST(Sandbox, ReadableTellsWhetherADirectoryIsExposed) {
  const Policy p = ParserPolicy({"/opt/tessdata"});
  EXPECT_TRUE(Readable(p, "/usr/local/share/data"));
  EXPECT_TRUE(Readable(p, "/opt/tessdata/eng.traineddata"));
  EXPECT_FALSE(Readable(p, "/var/lib/betterdev"));
  EXPECT_FALSE(Readable(p, "/usrx/data"));
  EXPECT_FALSE(Readable(p, "/opt"));
}

}  // namespace
}  // namespace betterdev::sandbox
