#include "ingest/job_server.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "extract/input_file.hpp"
#include "ingest/child_process.hpp"
#include "sandbox/sandbox.hpp"

namespace betterdev::ingest {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxMessage = 64 * 1024;
constexpr int kMaxFds = 2;

// One message (SOCK_SEQPACKET keeps its boundaries) with up to kMaxFds descriptors.
bool SendMessage(int sock, const std::string& text, const std::vector<int>& fds) {
  iovec iov{const_cast<char*>(text.data()), text.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int) * kMaxFds)> control{};
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    if (::sendmsg(sock, &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(text.size())) return true;
    if (errno != EINTR) return false;
  }
}

// false at end of stream or on an error; descriptors received are close-on-exec.
bool ReceiveMessage(int sock, std::string& text, std::vector<int>& fds) {
  text.resize(kMaxMessage);
  iovec iov{text.data(), text.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int) * kMaxFds)> control{};
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t n;
  do n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  fds.clear();
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds.push_back(fd);
    }
  }
  if (n <= 0) {
    for (int fd : fds) ::close(fd);
    fds.clear();
    return false;
  }
  text.resize(static_cast<size_t>(n));
  return true;
}

bool WaitReadable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  int r;
  do r = ::poll(&p, 1, timeout_ms);
  while (r < 0 && errno == EINTR);
  return r > 0;
}

Json ToJson(const JobRequest& r) {
  const ExtractJobSpec& s = r.spec;
  const extract::ExtractLimits& l = s.limits;
  return {{"content_type", s.content_type},
          {"limits",
           {{"max_pages", l.max_pages},
            {"max_text_bytes", l.max_text_bytes},
            {"max_zip_entries", l.max_zip_entries},
            {"max_office_part_bytes", l.max_office_part_bytes},
            {"max_office_total_bytes", l.max_office_total_bytes},
            {"max_image_pixels", l.max_image_pixels},
            {"ocr_page_timeout_seconds", l.ocr_page_timeout_seconds}}},
          {"ocr",
           {{"languages", s.ocr.languages},
            {"data_dir", s.ocr.data_dir},
            {"dpi", s.ocr.dpi},
            {"detect_rotation", s.ocr.detect_rotation}}},
          {"chunking", {{"size", s.chunking.size}, {"overlap", s.chunking.overlap}}},
          {"memory_limit_bytes", r.memory_limit_bytes},
          {"idle_scheduling", r.idle_scheduling},
          {"sandbox", r.sandbox}};
}

// Throws nlohmann's exceptions on a malformed request.
JobRequest FromJson(const Json& j) {
  JobRequest r;
  ExtractJobSpec& s = r.spec;
  s.content_type = j.at("content_type").get<std::string>();
  const Json& l = j.at("limits");
  s.limits.max_pages = l.at("max_pages").get<int>();
  s.limits.max_text_bytes = l.at("max_text_bytes").get<int64_t>();
  s.limits.max_zip_entries = l.at("max_zip_entries").get<int>();
  s.limits.max_office_part_bytes = l.at("max_office_part_bytes").get<int64_t>();
  s.limits.max_office_total_bytes = l.at("max_office_total_bytes").get<int64_t>();
  s.limits.max_image_pixels = l.at("max_image_pixels").get<int64_t>();
  s.limits.ocr_page_timeout_seconds = l.at("ocr_page_timeout_seconds").get<int>();
  const Json& o = j.at("ocr");
  s.ocr.languages = o.at("languages").get<std::string>();
  s.ocr.data_dir = o.at("data_dir").get<std::string>();
  s.ocr.dpi = o.at("dpi").get<int>();
  s.ocr.detect_rotation = o.at("detect_rotation").get<bool>();
  s.chunking.size = j.at("chunking").at("size").get<size_t>();
  s.chunking.overlap = j.at("chunking").at("overlap").get<size_t>();
  r.memory_limit_bytes = j.at("memory_limit_bytes").get<uint64_t>();
  r.idle_scheduling = j.at("idle_scheduling").get<bool>();
  r.sandbox = j.at("sandbox").get<bool>();
  return r;
}

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

// In the job process: confine it, then read the input it was handed.
int RunJob(const JobRequest& request, int input_fd, int output_fd) {
  if (request.sandbox) {
    std::vector<std::string> tessdata = {request.spec.ocr.data_dir};
    if (const char* prefix = std::getenv("TESSDATA_PREFIX")) tessdata.emplace_back(prefix);
    if (auto entered = sandbox::Enter(sandbox::ParserPolicy(tessdata)); !entered.ok()) {
      const std::string line = Json{{"t", "error"}, {"reason", "the sandbox could not be set up: " + entered.status().message()}}.dump() + "\n";
      (void)!::write(output_fd, line.data(), line.size());
      return 1;
    }
  }
  Result<extract::InputFile> input = extract::InputFile::Adopt(input_fd);
  if (!input.ok()) {
    const std::string line = Json{{"t", "error"}, {"reason", input.status().message()}}.dump() + "\n";
    (void)!::write(output_fd, line.data(), line.size());
    return 1;
  }
  return RunExtractJob(request.spec, *input, output_fd);
}

void Serve(int sock, const std::string& text, std::vector<int>& fds) {
  auto answer_error = [&](const std::string& why) { SendMessage(sock, Json{{"error", why}}.dump(), {}); };
  JobRequest request;
  Json j = Json::parse(text, nullptr, false);
  try {
    request = FromJson(j);
  } catch (const Json::exception& e) {
    return answer_error(std::string("malformed job request: ") + e.what());
  }
  if (fds.size() != 2) return answer_error("a job request carries two descriptors");
  ChildOptions options;
  options.address_space_limit_bytes = request.memory_limit_bytes;
  options.idle_scheduling = request.idle_scheduling;
  options.pipe_stdout = false;
  options.keep_fds = fds;
  const int input_fd = fds[0], output_fd = fds[1];
  auto child = ForkChild([&] { return RunJob(request, input_fd, output_fd); }, options);
  for (int fd : fds) ::close(fd);
  fds.clear();
  if (!child.ok()) return answer_error(child.status().message());
  const int pidfd = PidfdOpen(child->pid);
  std::vector<int> sent;
  if (pidfd >= 0) sent.push_back(pidfd);
  const bool told = SendMessage(sock, Json{{"pid", child->pid}}.dump(), sent);
  if (pidfd >= 0) ::close(pidfd);
  if (!told) ::kill(child->pid, SIGKILL);  // the worker is gone
  int status = 0;
  while (::waitpid(child->pid, &status, 0) < 0 && errno == EINTR) {
  }
  SendMessage(sock, Json{{"status", status}}.dump(), {});
}

}  // namespace

Result<std::unique_ptr<JobServer>> JobServer::Start(std::vector<std::string> argv, std::vector<std::string> env) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return Status::Internal(std::string("socketpair: ") + std::strerror(errno));
  argv.push_back("--socket-fd");
  argv.push_back(std::to_string(sv[1]));
  ChildOptions options;
  options.pipe_stdout = false;
  options.keep_fds = {sv[1]};
  options.clear_env = true;
  options.extra_env = std::move(env);
  auto child = SpawnChild(argv, options);
  ::close(sv[1]);
  if (!child.ok()) {
    ::close(sv[0]);
    return child.status();
  }
  std::unique_ptr<JobServer> server(new JobServer(child->pid, sv[0], ""));
  // The server says hello with what confinement it found; an exec that failed says nothing.
  std::string hello;
  std::vector<int> fds;
  if (!WaitReadable(sv[0], 30000) || !ReceiveMessage(sv[0], hello, fds))
    return Status::Unavailable("the job server did not start");
  Json h = Json::parse(hello, nullptr, false);
  if (!h.is_object() || !h.contains("sandbox")) return Status::Unavailable("the job server said something unexpected");
  server->sandbox_ = h["sandbox"].get<std::string>();
  return server;
}

JobServer::~JobServer() {
  ::close(sock_);
  // It holds nothing to save, and one that stopped answering may be waiting on a stuck child.
  ::kill(pid_, SIGKILL);
  int status;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

Result<RunningJob> JobServer::Run(const JobRequest& request, int input_fd) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return Status::Internal(std::string("pipe: ") + std::strerror(errno));
  const bool sent = SendMessage(sock_, ToJson(request).dump(), {input_fd, pipe_fds[1]});
  ::close(pipe_fds[1]);
  std::string answer;
  std::vector<int> fds;
  if (!sent || !WaitReadable(sock_, 30000) || !ReceiveMessage(sock_, answer, fds)) {
    ::close(pipe_fds[0]);
    return Status::Unavailable("the job server is gone");
  }
  Json a = Json::parse(answer, nullptr, false);
  if (!a.is_object() || !a.contains("pid") || !a["pid"].is_number_integer() || fds.size() != 1) {
    ::close(pipe_fds[0]);
    for (int fd : fds) ::close(fd);
    if (a.is_object() && a.contains("error") && a["error"].is_string())
      return Status::Internal("could not start a job process: " + a["error"].get<std::string>());
    return Status::Unavailable("the job server answered something unexpected");
  }
  return RunningJob{a["pid"].get<pid_t>(), fds[0], pipe_fds[0]};
}

Result<std::optional<int>> JobServer::Wait(const RunningJob&, int timeout_ms) {
  if (!WaitReadable(sock_, timeout_ms)) return std::optional<int>();
  std::string answer;
  std::vector<int> fds;
  if (!ReceiveMessage(sock_, answer, fds)) return Status::Unavailable("the job server is gone");
  for (int fd : fds) ::close(fd);
  Json a = Json::parse(answer, nullptr, false);
  if (!a.is_object() || !a.contains("status") || !a["status"].is_number_integer())
    return Status::Unavailable("the job server answered something unexpected");
  return std::optional<int>(a["status"].get<int>());
}

void JobServer::Kill(const RunningJob& job) {
  if (job.pidfd >= 0) ::syscall(SYS_pidfd_send_signal, job.pidfd, SIGKILL, nullptr, 0);
}

void JobServer::Close(RunningJob& job) {
  if (job.pidfd >= 0) ::close(job.pidfd);
  if (job.output >= 0) ::close(job.output);
  job.pidfd = job.output = -1;
}

int RunJobServer(int socket_fd) {
  ::signal(SIGPIPE, SIG_IGN);
  if (!SendMessage(socket_fd, Json{{"sandbox", sandbox::Probe().Describe()}}.dump(), {})) return 1;
  std::string text;
  std::vector<int> fds;
  while (ReceiveMessage(socket_fd, text, fds)) Serve(socket_fd, text, fds);
  return 0;
}

}  // namespace betterdev::ingest
