// For tests: a real PostgreSQL 15 server (Debian's, with the pgvector scripts/setup.sh builds)
// in a temporary directory on a free loopback port, without fsync. PostgreSQL refuses to run
// as root, so under root the server runs as the `postgres` account. Each test takes a fresh
// database of its own (NewDatabase). Stopped (fast shutdown) when destroyed.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "store/postgres/pg.hpp"
#include "testutil/testutil.hpp"

namespace betterdev::store {

class PgTestServer {
 public:
  PgTestServer() {
    if (::getuid() == 0) {
      if (const passwd* pw = ::getpwnam("postgres")) {
        uid_ = pw->pw_uid;
        gid_ = pw->pw_gid;
        (void)::chown(dir_.path().c_str(), uid_, gid_);
      }
    }
    const std::string data = dir_.File("data");
    if (Run({BETTERDEV_PG_BINDIR "/initdb", "-D", data.c_str(), "-U", "betterdev", "-A", "trust", "-E", "UTF8",
             "--locale=C.UTF-8", "--no-sync"}) != 0)
      return;
    Start();
  }
  ~PgTestServer() { Stop(); }

  // Fast shutdown; Start() brings it back on the same port with the same data.
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGINT);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void Start() {
    if (port_ == 0) port_ = testutil::FreeLoopbackPort();
    const std::string data = dir_.File("data"), port = std::to_string(port_), log = dir_.File("server.log");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a test that aborts leaves no server behind
      const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(out, STDOUT_FILENO);
      ::dup2(out, STDERR_FILENO);
      BecomeOwner();
      ::execl(BETTERDEV_PG_BINDIR "/postgres", "postgres", "-D", data.c_str(), "-p", port.c_str(), "-h", "127.0.0.1",
              "-k", dir_.path().c_str(), "-F", "-c", "max_connections=200", "-c", "shared_buffers=32MB", "-c",
              "full_page_writes=off", "-c", "synchronous_commit=off", nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 1000; ++i) {  // up to 10 s
      if (pg::Connection::Open(url("postgres"), 1).ok()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  bool running() const { return pid_ > 0; }
  int port() const { return port_; }

  std::string url(const std::string& database) const {
    return "postgresql://betterdev@127.0.0.1:" + std::to_string(port_) + "/" + database;
  }
  // A new empty database; its URL.
  std::string NewDatabase() {
    const std::string name = "t" + std::to_string(++databases_);
    auto conn = pg::Connection::Open(url("postgres"), 5);
    if (conn.ok()) (void)(*conn)->Script("CREATE DATABASE " + name);
    return url(name);
  }

 private:
  void BecomeOwner() const {
    if (uid_ == 0) return;
    (void)::setgid(gid_);
    (void)::setuid(uid_);
  }
  int Run(std::initializer_list<const char*> argv) const {
    std::vector<const char*> args(argv);
    args.push_back(nullptr);
    const std::string log = dir_.File("initdb.log");
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(out, STDOUT_FILENO);
      ::dup2(out, STDERR_FILENO);
      BecomeOwner();
      ::execv(args[0], const_cast<char* const*>(args.data()));
      ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  }

  testutil::TempDir dir_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  int port_ = 0;
  pid_t pid_ = -1;
  std::atomic<int> databases_{0};
};

}  // namespace betterdev::store
