#include "ingest/supervisor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "ingest/child_process.hpp"

namespace betterdev::ingest {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr int kMaxBackoffMs = 30000;
constexpr int64_t kStableMs = 10000;  // a worker that ran this long restarts without delay

}  // namespace

Supervisor::Supervisor(std::vector<std::string> argv, int count, int nice, EventHandler on_event, Logger& log)
    : argv_(std::move(argv)), nice_(nice), on_event_(std::move(on_event)), log_(log), slots_(static_cast<size_t>(count)) {}

Supervisor::~Supervisor() {
  Stop(0);
  if (events_read_ >= 0) ::close(events_read_);
  if (events_write_ >= 0) ::close(events_write_);
  if (wake_read_ >= 0) ::close(wake_read_);
  if (wake_write_ >= 0) ::close(wake_write_);
}

void Supervisor::Wake() {
  if (wake_write_ < 0) return;
  char byte = 1;
  (void)!::write(wake_write_, &byte, 1);  // non-blocking: a full pipe already wakes everyone
}

Status Supervisor::Start() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status::Internal(std::string("pipe: ") + std::strerror(errno));
  events_read_ = fds[0];
  events_write_ = fds[1];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status::Internal(std::string("pipe: ") + std::strerror(errno));
  wake_read_ = fds[0];
  wake_write_ = fds[1];
  ::fcntl(wake_write_, F_SETFL, O_NONBLOCK);
  ::fcntl(wake_read_, F_SETFL, O_NONBLOCK);  // two workers may race for one byte
  // The watcher thread starts every worker and stops them too: PR_SET_PDEATHSIG fires when
  // the thread that forked a child ends, so that thread must outlive its children.
  watcher_ = std::thread([this] { Watch(); });
  return Status::Ok();
}

Status Supervisor::Spawn(Slot& slot, int index) {
  std::vector<std::string> argv = argv_;
  argv.push_back("--events-fd");
  argv.push_back(std::to_string(events_write_));
  argv.push_back("--wake-fd");
  argv.push_back(std::to_string(wake_read_));
  argv.push_back("--worker-index");
  argv.push_back(std::to_string(index));
  ChildOptions options;
  options.pipe_stdout = false;
  options.nice = nice_;
  options.own_process_group = true;  // the supervisor alone decides when workers stop
  options.keep_fds = {events_write_, wake_read_};
  auto child = SpawnChild(argv, options);
  if (!child.ok()) return child.status();
  slot.pid = child->pid;
  slot.started_ms = NowMs();
  running_.fetch_add(1);
  log_.Info("worker started", {{"worker", index}, {"pid", static_cast<int64_t>(slot.pid)}});
  return Status::Ok();
}

void Supervisor::Watch() {
  while (!stopping_) {
    Reap(NowMs());  // also the first start of every worker
    pollfd pfd{events_read_, POLLIN, 0};
    if (::poll(&pfd, 1, 200) > 0) ReadEvents();
  }
  TerminateAll();
}

void Supervisor::ReadEvents() {
  char block[16384];
  ssize_t n = ::read(events_read_, block, sizeof block);
  if (n <= 0) return;
  partial_.append(block, static_cast<size_t>(n));
  size_t start = 0;
  for (size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1) {
    if (auto e = DecodeEvent(std::string_view(partial_).substr(start, nl - start))) on_event_(*e);
  }
  partial_.erase(0, start);
}

void Supervisor::Reap(int64_t now_ms) {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& slot = slots_[i];
    if (slot.pid > 0) {
      int status = 0;
      pid_t r = ::waitpid(slot.pid, &status, WNOHANG);
      if (r != slot.pid) continue;
      running_.fetch_sub(1);
      slot.pid = -1;
      bool stable = now_ms - slot.started_ms >= kStableMs;
      slot.backoff_ms = stable ? 1000 : std::min(slot.backoff_ms * 2, kMaxBackoffMs);
      slot.restart_at_ms = now_ms + (stable ? 0 : slot.backoff_ms);
      log_.Warn("worker exited; restarting",
                {{"worker", static_cast<int64_t>(i)}, {"how", DescribeWaitStatus(status)},
                 {"restart_in_ms", slot.restart_at_ms - now_ms}});
    }
    if (slot.pid < 0 && !stopping_ && now_ms >= slot.restart_at_ms) {
      bool restart = slot.started_ms != 0;
      if (Status s = Spawn(slot, static_cast<int>(i)); !s.ok()) {
        log_.Error("cannot start a worker", {{"error", s.message()}});
        slot.restart_at_ms = now_ms + kMaxBackoffMs;
      } else if (restart) {
        restarts_.fetch_add(1);
      }
    }
  }
}

void Supervisor::Stop(int grace_seconds) {
  grace_seconds_ = grace_seconds;
  stopping_ = true;
  if (watcher_.joinable()) watcher_.join();
}

void Supervisor::TerminateAll() {
  std::lock_guard lock(mu_);
  for (Slot& slot : slots_)
    if (slot.pid > 0) ::kill(slot.pid, SIGTERM);
  int64_t deadline = NowMs() + int64_t{grace_seconds_.load()} * 1000;
  for (Slot& slot : slots_) {
    while (slot.pid > 0) {
      int status = 0;
      pid_t r = ::waitpid(slot.pid, &status, WNOHANG);
      if (r == slot.pid || (r < 0 && errno == ECHILD)) {
        slot.pid = -1;
        running_.fetch_sub(1);
        break;
      }
      if (NowMs() >= deadline) ::kill(slot.pid, SIGKILL);
      ::usleep(20000);
    }
  }
}

}  // namespace betterdev::ingest
