#include "sandbox/sandbox.hpp"

#include <fcntl.h>
#include <linux/landlock.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>

namespace betterdev::sandbox {
namespace {

// Landlock's ABI, as the kernel defines it; Debian 12's headers stop at version 3.
constexpr uint64_t kFsReadFile = 1ULL << 2, kFsReadDir = 1ULL << 3;
constexpr uint64_t kFsAllV1 = (1ULL << 13) - 1;  // execute .. make_sym
constexpr uint64_t kFsRefer = 1ULL << 13;        // v2
constexpr uint64_t kFsTruncate = 1ULL << 14;     // v3
constexpr uint64_t kFsIoctlDev = 1ULL << 15;     // v5
constexpr uint64_t kNetBindTcp = 1ULL << 0, kNetConnectTcp = 1ULL << 1;  // v4
constexpr uint64_t kScopeAbstractUnixSocket = 1ULL << 0, kScopeSignal = 1ULL << 1;  // v6

// landlock_ruleset_attr grew a field at v4 (network) and at v6 (scopes); the kernel reads as
// many bytes as it is given.
struct RulesetAttr {
  uint64_t handled_access_fs = 0;
  uint64_t handled_access_net = 0;
  uint64_t scoped = 0;
};

int LandlockAbi() {
  const long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return abi > 0 ? static_cast<int>(abi) : 0;
}

bool SeccompAvailable() { return ::prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0; }

Status Errno(const std::string& what) { return Status::Internal(what + ": " + std::strerror(errno)); }

Status EnterLandlock(const Policy& policy, int abi) {
  RulesetAttr attr;
  attr.handled_access_fs = kFsAllV1;
  if (abi >= 2) attr.handled_access_fs |= kFsRefer;
  if (abi >= 3) attr.handled_access_fs |= kFsTruncate;
  if (abi >= 5) attr.handled_access_fs |= kFsIoctlDev;
  size_t size = sizeof(uint64_t);
  if (abi >= 4) {
    attr.handled_access_net = kNetBindTcp | kNetConnectTcp;
    size = 2 * sizeof(uint64_t);
  }
  if (abi >= 6) {
    attr.scoped = kScopeAbstractUnixSocket | kScopeSignal;
    size = sizeof(RulesetAttr);
  }
  const int ruleset = static_cast<int>(::syscall(SYS_landlock_create_ruleset, &attr, size, 0));
  if (ruleset < 0) return Errno("landlock_create_ruleset");
  for (const std::string& path : policy.read_only) {
    const int fd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
    if (fd < 0) continue;  // not on this machine
    struct stat st {};
    landlock_path_beneath_attr rule{};
    rule.parent_fd = fd;
    // A file takes only file rights; a directory also lists.
    rule.allowed_access = kFsReadFile;
    if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) rule.allowed_access |= kFsReadDir;
    const long added = ::syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
    const int err = errno;
    ::close(fd);
    if (added != 0) {
      ::close(ruleset);
      errno = err;
      return Errno("landlock_add_rule " + path);
    }
  }
  const long restricted = ::syscall(SYS_landlock_restrict_self, ruleset, 0);
  const int err = errno;
  ::close(ruleset);
  errno = err;
  return restricted == 0 ? Status::Ok() : Errno("landlock_restrict_self");
}

// System calls a parser has no use for and an exploit would: they fail with EPERM.
constexpr const char* kDenied[] = {
    // network, and Unix sockets to other processes
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    // new programs and processes (clone without CLONE_THREAD is handled below)
    "execve", "execveat", "fork", "vfork",
    // other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_open", "pidfd_getfd", "pidfd_send_signal", "kcmp",
    // the system
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "move_mount", "open_tree", "fsopen", "fsmount",
    "fspick", "mount_setattr", "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "open_by_handle_at", "name_to_handle_at", "init_module",
    "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "syslog", "acct",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "quotactl", "personality", "mknod", "mknodat",
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid",
    "chown", "fchown", "lchown", "fchownat", "lookup_dcookie", "vhangup", "uselib", "ioperm", "iopl"};

Status EnterSeccomp() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (ctx == nullptr) return Status::Internal("seccomp_init failed");
  auto fail = [&](const std::string& what, int rc) {
    seccomp_release(ctx);
    return Status::Internal(what + ": " + std::strerror(-rc));
  };
  for (const char* name : kDenied) {
    const int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0); rc != 0) return fail(std::string("seccomp ") + name, rc);
  }
  // clone makes threads (allowed) and processes (not).
  if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                                SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
      rc != 0)
    return fail("seccomp clone", rc);
  // clone3 passes its flags in memory, where a filter cannot look: "not implemented" makes the
  // C library fall back to clone.
  if (const int nr = seccomp_syscall_resolve_name("clone3"); nr != __NR_SCMP_ERROR) {
    if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0); rc != 0) return fail("seccomp clone3", rc);
  }
  const int rc = seccomp_load(ctx);
  seccomp_release(ctx);
  return rc == 0 ? Status::Ok() : Status::Internal(std::string("seccomp_load: ") + std::strerror(-rc));
}

}  // namespace

Policy ParserPolicy(const std::vector<std::string>& extra) {
  Policy p;
  p.read_only = {"/usr", "/lib", "/lib64", "/etc", "/sys/devices/system/cpu", "/dev/null", "/dev/urandom",
                 "/var/cache/fontconfig"};
  for (const std::string& e : extra)
    if (!e.empty()) p.read_only.push_back(e);
  return p;
}

std::string Report::Describe() const {
  const std::string landlock = "landlock v" + std::to_string(landlock_abi);
  if (landlock_abi > 0 && seccomp) return landlock + ", seccomp";
  if (seccomp) return "seccomp only (no Landlock in this kernel: job processes can read what the worker can)";
  if (landlock_abi > 0) return landlock + " only (no seccomp in this kernel)";
  return "none (neither Landlock nor seccomp in this kernel)";
}

Report Probe() { return Report{LandlockAbi(), SeccompAvailable()}; }

Result<Report> Enter(const Policy& policy) {
  const Report report = Probe();
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Errno("no_new_privs");
  if (report.landlock_abi > 0) BD_RETURN_IF_ERROR(EnterLandlock(policy, report.landlock_abi));
  if (report.seccomp) BD_RETURN_IF_ERROR(EnterSeccomp());
  return report;
}

bool Readable(const Policy& policy, const std::string& path) {
  std::error_code ec;
  const std::filesystem::path target = std::filesystem::weakly_canonical(path, ec);
  if (ec) return false;
  for (const std::string& r : policy.read_only) {
    const std::filesystem::path root = std::filesystem::weakly_canonical(r, ec);
    if (ec) continue;
    auto [end, _] = std::mismatch(root.begin(), root.end(), target.begin(), target.end());
    if (end == root.end()) return true;
  }
  return false;
}

}  // namespace betterdev::sandbox
