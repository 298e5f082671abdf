// For tests: a real S3 server (@20minutes/s3rver, which checks SigV4 signatures) on a free
// loopback port, storing in a temporary directory, behind a proxy that injects failures
// (testdata/s3rver.cjs). Stopped when destroyed.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "blob/s3/s3_client.hpp"
#include "testutil/child.hpp"
#include "testutil/testutil.hpp"

namespace betterdev::blob {

class S3TestServer {
 public:
  static constexpr char kBucket[] = "betterdev-test";

  S3TestServer() {
    child_.Start({"node", BETTERDEV_S3_TESTDATA "/s3rver.cjs", BETTERDEV_S3RVER_DIR, dir_.File("s3"), kBucket});
    port_ = Number(child_.line(), "\"port\":");
  }
  void Stop() { child_.Stop(); }
  int port() const { return port_; }

  // Path-style options for this server, with quick retries.
  S3Options options() const {
    S3Options o;
    o.endpoint = "http://127.0.0.1:" + std::to_string(port_);
    o.bucket = kBucket;
    o.access_key = "S3RVER";
    o.secret_key = "S3RVER";
    o.force_path_style = true;
    o.part_bytes = uint64_t{5} << 20;
    o.backoff_ms = 5;
    o.max_attempts = 3;
    return o;
  }

  // Faults for the next requests, in order: a JSON list (see testdata/s3rver.cjs).
  void Inject(const std::string& json) {
    Exchange("POST /__faults HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + std::to_string(json.size()) +
             "\r\nConnection: close\r\n\r\n" + json);
  }
  // "METHOD /path?query" of every request that reached the server.
  std::vector<std::string> Log() {
    const std::string answer = Exchange("GET /__log HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    std::vector<std::string> lines;
    size_t at = answer.find("\r\n\r\n");
    if (at == std::string::npos) return lines;
    at = answer.find('"', at);
    while (at != std::string::npos) {
      const size_t end = answer.find('"', at + 1);
      if (end == std::string::npos) break;
      lines.push_back(answer.substr(at + 1, end - at - 1));
      at = answer.find('"', end + 1);
    }
    return lines;
  }

 private:
  static int Number(const std::string& s, const std::string& after) {
    const size_t at = s.find(after);
    return at == std::string::npos ? 0 : std::atoi(s.c_str() + at + after.size());
  }

  std::string Exchange(const std::string& request) const {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string answer;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) answer.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return answer;
  }

  testutil::TempDir dir_;
  testutil::ChildServer child_;  // after dir_: stopped before the directory goes
  int port_ = 0;
};

}  // namespace betterdev::blob
