// For tests: a real redis-server (Debian's) on a free loopback port, in a temporary directory,
// with append-only persistence on; stopped (SIGTERM, then waited for) when destroyed.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "redis/redis_client.hpp"
#include "testutil/testutil.hpp"

namespace betterdev::redis {

class RedisTestServer {
 public:
  struct Tls {};
  RedisTestServer() { Start(); }
  // Serves TLS only, with a certificate for 127.0.0.1 made here (openssl), its own authority.
  explicit RedisTestServer(Tls) : tls_(true) {
    const std::string key = dir_.File("key.pem"), cert = dir_.File("cert.pem");
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int null = ::open("/dev/null", O_WRONLY);  // its progress dots
      ::dup2(null, STDERR_FILENO);
      ::execlp("openssl", "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key.c_str(), "-out",
               cert.c_str(), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
               nullptr);
      ::_exit(127);
    }
    ::waitpid(pid, nullptr, 0);
    Start();
  }
  ~RedisTestServer() { Stop(); }

  // Starts it again on the same port and directory (what was persisted comes back).
  void Restart() {
    Stop();
    Start();
  }
  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  RedisUrl url() const {
    RedisUrl u;
    u.port = port_;
    u.tls = tls_;
    if (tls_) u.tls_ca_file = dir_.File("cert.pem");
    return u;
  }
  bool running() const { return pid_ > 0; }

 private:

  void Start() {
    if (port_ == 0) port_ = testutil::FreeLoopbackPort();
    const std::string port = std::to_string(port_);
    const std::string log = dir_.File("redis.log");  // its start-up warnings stay out of the test output
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a test that aborts leaves no server behind
      if (tls_) {
        const std::string cert = dir_.File("cert.pem"), key = dir_.File("key.pem");
        ::execlp("redis-server", "redis-server", "--port", "0", "--tls-port", port.c_str(), "--tls-cert-file", cert.c_str(),
                 "--tls-key-file", key.c_str(), "--tls-ca-cert-file", cert.c_str(), "--tls-auth-clients", "no", "--bind",
                 "127.0.0.1", "--dir", dir_.path().c_str(), "--appendonly", "yes", "--save", "", "--daemonize", "no",
                 "--loglevel", "warning", "--logfile", log.c_str(), nullptr);
      }
      ::execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1", "--dir", dir_.path().c_str(),
               "--appendonly", "yes", "--save", "", "--daemonize", "no", "--loglevel", "warning", "--logfile",
               log.c_str(), nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 500; ++i) {  // up to 5 s for it to answer
      if (auto client = RedisClient::Connect(url(), std::chrono::milliseconds(200)); client.ok()) {
        if (auto pong = (*client)->Command({"PING"}); pong.ok() && pong->text == "PONG") return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  testutil::TempDir dir_;
  bool tls_ = false;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace betterdev::redis
