// For tests: the Pinecone stand-in (testdata/pinecone_standin.mjs, Pinecone's data-plane wire
// format and errors) on a free loopback port, for an index of `dimension`. Stopped when
// destroyed.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <string>

#include "httpclient/http_client.hpp"
#include "pinecone/pinecone_mirror.hpp"

namespace betterdev::pinecone {

class PineconeTestServer {
 public:
  static constexpr char kApiKey[] = "pinecone-test-key";

  explicit PineconeTestServer(int dimension) {
    int out[2];
    if (::pipe(out) != 0) return;
    const std::string dim = std::to_string(dimension);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a test that aborts leaves no server behind
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      ::execlp("node", "node", BETTERDEV_PINECONE_STANDIN, "--dimension", dim.c_str(), "--api-key", kApiKey, nullptr);
      ::_exit(127);
    }
    ::close(out[1]);
    std::string line;
    pollfd p{out[0], POLLIN, 0};
    while (line.find('\n') == std::string::npos && ::poll(&p, 1, 20000) > 0) {
      char buf[256];
      const ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    ::close(out[0]);
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("port")) port_ = j["port"].get<int>();
  }
  ~PineconeTestServer() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }

  int port() const { return port_; }
  std::string host() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Options for this server, with quick retries.
  PineconeOptions options() const {
    PineconeOptions o;
    o.index_host = host();
    o.api_key = kApiKey;
    o.client = client_;
    o.base_backoff_ms = 5;
    o.max_backoff_ms = 50;
    return o;
  }

  // Faults for the next data requests, in order: a JSON list (see the stand-in).
  void Inject(const std::string& json) { Control("POST", "/_standin/faults", json); }
  // The requests so far, in order.
  nlohmann::json Log() { return nlohmann::json::parse(Control("GET", "/_standin/log", ""), nullptr, false); }

 private:
  std::string Control(const std::string& method, const std::string& path, const std::string& body) {
    httpclient::Request r;
    r.method = method;
    r.url = host() + path;
    r.body = body;
    r.headers = {{"Content-Type", "application/json"}};
    return client_->Send(r).body;
  }

  pid_t pid_ = -1;
  int port_ = 0;
  std::shared_ptr<httpclient::Client> client_ = httpclient::NewClient();
};

}  // namespace betterdev::pinecone
