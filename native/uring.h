// A small io_uring for one thread: a batch of independent requests (open, read, close), submitted
// and waited for together, each with its own answer. On this host's VMs a system call's entry and
// exit cost more than the work of opening, reading and closing a small cached file: reading 20,000
// files of 1-8 KiB with openat, pread and close batched here took 62 ms of CPU against 141 ms one
// call each (docs/DECISIONS.md).
//
// Not everywhere: Linux only, and refused by old kernels, io_uring_disabled, seccomp (containers'
// default profiles), or BLIT_NO_URING=1. Then ForThisThread() is null and callers take their plain
// path, which gives the same answers.

#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace blit {

class Uring {
 public:
  // This thread's ring, set up at its first use; null where there is none.
  static Uring* ForThisThread();
  // How many Runs this process's rings have made (the tests' proof that a path took the ring).
  static uint64_t RunsSoFar();
  // Reads BLIT_NO_URING; on the JS thread, as the addon loads.
  static void ReadSettings();

  // The most requests one Run takes.
  static constexpr unsigned kMaxBatch = 256;

  // Requests for the next Run, answered in the order queued (as the system call would answer:
  // >= 0, or -errno). `name` and `into` must live until Run returns.
  void Openat(int dirfd, const char* name, int flags, mode_t mode);
  // openat2 of `path` beneath `dirfd` (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), as blit_beneath's
  // opens resolve it: only where HasOpenat2() (IORING_OP_OPENAT2, Linux 5.6).
  void OpenatBeneath(int dirfd, const char* path, int flags);
  bool HasOpenat2() const { return hasOpenat2_; }
  void Read(int fd, void* into, unsigned length, uint64_t offset);
  void Close(int fd);
  size_t Queued() const { return queued_.size(); }

  // Submits what is queued and waits for every answer. False when the ring itself failed: no
  // answer is then known, nor whether a request ran (the ring is not used again on this thread).
  bool Run(std::vector<int>* answers);

  ~Uring();

 private:
  struct Request {
    uint8_t op;
    int fd;
    const void* ptr;
    unsigned length;
    uint64_t offset;
    int flags;
    mode_t mode;
  };
  Uring() = default;
  bool Setup();
  int ringFd_ = -1;
  bool broken_ = false;
  bool hasOpenat2_ = false;
  void* sqRing_ = nullptr;
  size_t sqRingBytes_ = 0;
  void* sqes_ = nullptr;
  size_t sqesBytes_ = 0;
  unsigned *sqHead_ = nullptr, *sqTail_ = nullptr, *sqMask_ = nullptr, *sqArray_ = nullptr;
  unsigned *cqHead_ = nullptr, *cqTail_ = nullptr, *cqMask_ = nullptr;
  void* cqes_ = nullptr;
  std::vector<Request> queued_;
};

}  // namespace blit
