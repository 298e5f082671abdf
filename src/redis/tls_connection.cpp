#include "redis/tls_connection.hpp"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace betterdev::redis {
namespace {

std::string OpenSslError() {
  const unsigned long e = ERR_get_error();
  if (e == 0) return "connection closed";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

void ApplyTimeout(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // also bounds connect()
}

}  // namespace

struct TlsConnection::State {
  int fd = -1;
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  redisReader* reader = nullptr;
  bool closed = false;
  ~State() {
    if (reader != nullptr) redisReaderFree(reader);
    if (ssl != nullptr) SSL_free(ssl);
    if (ctx != nullptr) SSL_CTX_free(ctx);
    if (fd >= 0) ::close(fd);
  }
};

TlsConnection::TlsConnection(std::unique_ptr<State> s) : s_(std::move(s)) {}
TlsConnection::~TlsConnection() = default;

Result<std::unique_ptr<TlsConnection>> TlsConnection::Open(const std::string& host, int port, const std::string& ca_file,
                                                           std::chrono::milliseconds timeout) {
  const std::string where = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || found == nullptr)
    return Status::Unavailable("cannot resolve Redis host " + host);
  auto s = std::make_unique<State>();
  for (addrinfo* a = found; a != nullptr && s->fd < 0; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    ApplyTimeout(fd, timeout);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      s->fd = fd;
    } else {
      ::close(fd);
    }
  }
  ::freeaddrinfo(found);
  if (s->fd < 0) return Status::Unavailable("cannot connect to Redis at " + where + ": " + std::strerror(errno));
  const int one = 1;
  ::setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  s->ctx = SSL_CTX_new(TLS_client_method());
  if (s->ctx == nullptr) return Status::Unavailable("TLS: " + OpenSslError());
  SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, nullptr);
  const int loaded = ca_file.empty() ? SSL_CTX_set_default_verify_paths(s->ctx)
                                     : SSL_CTX_load_verify_locations(s->ctx, ca_file.c_str(), nullptr);
  if (loaded != 1) return Status::Unavailable("TLS: cannot load the certificate authorities " + ca_file + ": " + OpenSslError());
  s->ssl = SSL_new(s->ctx);
  SSL_set_fd(s->ssl, s->fd);
  // The certificate must name the host: its IP address, or its DNS name (also sent as SNI).
  in6_addr ip{};
  const bool is_ip = ::inet_pton(AF_INET, host.c_str(), &ip) == 1 || ::inet_pton(AF_INET6, host.c_str(), &ip) == 1;
  if (is_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), host.c_str());
  } else {
    SSL_set_tlsext_host_name(s->ssl, host.c_str());
    SSL_set1_host(s->ssl, host.c_str());
  }
  if (SSL_connect(s->ssl) != 1) {
    std::string why = OpenSslError();
    if (const long v = SSL_get_verify_result(s->ssl); v != X509_V_OK) why = X509_verify_cert_error_string(v);
    return Status::Unavailable("TLS with Redis at " + where + " failed: " + why);
  }
  s->reader = redisReaderCreate();
  return std::unique_ptr<TlsConnection>(new TlsConnection(std::move(s)));
}

void TlsConnection::SetTimeout(std::chrono::milliseconds timeout) { ApplyTimeout(s_->fd, timeout); }

bool TlsConnection::closed_by_server() const { return s_->closed; }

Status TlsConnection::Lost(int result, const char* what) {
  const int error = errno;
  const int ssl_error = SSL_get_error(s_->ssl, result);
  s_->closed = ssl_error == SSL_ERROR_ZERO_RETURN || (ssl_error == SSL_ERROR_SYSCALL && (result == 0 || error == ECONNRESET ||
                                                                                         error == EPIPE));
  const std::string why = ssl_error == SSL_ERROR_SYSCALL && (error == EAGAIN || error == EWOULDBLOCK)
                              ? std::string("timed out")
                              : OpenSslError();
  return Status::Unavailable(std::string("Redis connection lost (TLS ") + what + "): " + why);
}

Result<redisReply*> TlsConnection::Command(const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<size_t> lengths;
  for (const std::string& a : argv) {
    args.push_back(a.data());
    lengths.push_back(a.size());
  }
  char* formatted = nullptr;
  const int n = redisFormatCommandArgv(&formatted, static_cast<int>(argv.size()), args.data(), lengths.data());
  if (n < 0) return Status::Internal("cannot format the Redis command");
  std::unique_ptr<char, void (*)(void*)> owned(formatted, std::free);
  for (int sent = 0; sent < n;) {
    const int w = SSL_write(s_->ssl, formatted + sent, n - sent);
    if (w <= 0) return Lost(w, "write");
    sent += w;
  }
  char buf[16 * 1024];
  for (;;) {
    void* reply = nullptr;
    if (redisReaderGetReply(s_->reader, &reply) != REDIS_OK)
      return Status::Unavailable("Redis sent what it should not: " + std::string(s_->reader->errstr));
    if (reply != nullptr) return static_cast<redisReply*>(reply);
    const int r = SSL_read(s_->ssl, buf, sizeof buf);
    if (r <= 0) return Lost(r, "read");
    redisReaderFeed(s_->reader, buf, static_cast<size_t>(r));
  }
}

}  // namespace betterdev::redis
