// Confinement for a process that parses strangers' files (the job process, see ingest/).
//
// Once entered, for good and for every thread the process starts afterwards:
//   - files: read-only access beneath the policy's paths (system libraries, fonts, OCR data),
//     nothing else: not the data directory (database, other users' files), no writes anywhere,
//     no running programs (Landlock, Linux >= 5.13);
//   - system calls (seccomp, via libseccomp): no sockets of any family, no execve, no new
//     processes (threads are allowed), no ptrace or reading other processes' memory, no
//     mounts, namespaces, keyrings, BPF, io_uring, kernel modules; they fail with EPERM;
//   - no privileges gained later (no_new_privs), signals only within the sandbox and no
//     abstract Unix sockets (Landlock scopes, Linux >= 6.12).
// Descriptors already open stay usable: the input file and the output pipe are handed over
// that way. Where the kernel lacks Landlock the file rules are skipped and the report says so
// (the caller logs it); seccomp is then the only wall.
#pragma once

#include <string>
#include <vector>

#include "core/status.hpp"

namespace betterdev::sandbox {

struct Policy {
  // Files and directories that may be read (with everything beneath). Paths that do not
  // exist are skipped.
  std::vector<std::string> read_only;
};

// What a parser needs: shared libraries and their data (/usr, /lib*, /etc), the CPU list
// (/sys/devices/system/cpu), /dev/null and /dev/urandom, fontconfig's cache, plus `extra`
// (Tesseract's data directory when it is elsewhere).
Policy ParserPolicy(const std::vector<std::string>& extra = {});

struct Report {
  int landlock_abi = 0;    // 0: the kernel has no Landlock; files are not confined
  bool seccomp = false;
  std::string Describe() const;  // "landlock v7, seccomp" / "seccomp only (no Landlock in this kernel)"
};

// What the running kernel offers, without entering anything.
Report Probe();

// Confines the calling process. Call it while single-threaded (threads that already exist are
// not confined). Fails (Internal) only when a mechanism the kernel has could not be set up;
// missing mechanisms are reported, not errors.
Result<Report> Enter(const Policy& policy);

// True when `path` lies beneath one of the policy's readable paths (a data directory there
// would be readable from the sandbox).
bool Readable(const Policy& policy, const std::string& path);

}  // namespace betterdev::sandbox
