// See uring.h. The ring is set up with the kernel's own interface (no liburing: the addon builds
// from source on the user's machine against what every Linux system has).

#include "uring.h"

#include "common.h"
#include "open_how.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <atomic>
#include <memory>

#if defined(__linux__) && defined(__has_include)
#if __has_include(<linux/io_uring.h>)
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
// IO_URING_OP_SUPPORTED (a macro, unlike the operation numbers) came with the probe and open_flags
// in Linux 5.6's header: an older header builds the addon without a ring.
#if defined(__NR_io_uring_setup) && defined(__NR_io_uring_enter) && defined(__NR_io_uring_register) && \
    defined(IORING_OFF_SQ_RING) && defined(IO_URING_OP_SUPPORTED)
#define BLIT_HAS_URING 1
#endif
#endif
#endif

namespace blit {

namespace {
std::atomic<uint64_t> g_runs{0};
// BLIT_NO_URING=1, read once on the JS thread as the addon loads (ReadSettings): the landing
// threads never call getenv while JavaScript may change the environment.
std::atomic<bool> g_disabled{false};
}  // namespace

uint64_t Uring::RunsSoFar() { return g_runs.load(std::memory_order_relaxed); }

void Uring::ReadSettings() {
  g_disabled.store(EnvIsOne("BLIT_NO_URING"), std::memory_order_relaxed);
}

#ifdef BLIT_HAS_URING

namespace {

// The kernel's operation numbers (its ABI, never renumbered): an enum in linux/io_uring.h, which
// the preprocessor cannot ask about, and older headers lack the newer ones. Whether the running
// kernel knows each is asked at setup (Supports).
constexpr uint8_t kOpOpenat = 18;  // IORING_OP_OPENAT, Linux 5.6
constexpr uint8_t kOpClose = 19;   // IORING_OP_CLOSE, 5.6
constexpr uint8_t kOpRead = 22;    // IORING_OP_READ, 5.6
constexpr uint8_t kOpOpenat2 = 28; // IORING_OP_OPENAT2, 5.6 (asked apart: the others do without it)

// Every thread that asked and found none (or whose ring failed) goes without from then on.
thread_local bool t_none = false;
thread_local std::unique_ptr<Uring> t_ring;

int Enter(int fd, unsigned submit, unsigned wait) {
  return static_cast<int>(syscall(__NR_io_uring_enter, fd, submit, wait, wait > 0 ? IORING_ENTER_GETEVENTS : 0,
                                  nullptr, 0));
}

// Whether the kernel knows the operations used here (Linux 5.6 on); `openat2`: whether it knows
// IORING_OP_OPENAT2 too.
bool Supports(int ringFd, bool* openat2) {
  constexpr unsigned kOps = 64;
  size_t bytes = sizeof(io_uring_probe) + kOps * sizeof(io_uring_probe_op);
  std::unique_ptr<char[]> memory(new char[bytes]());
  auto* probe = reinterpret_cast<io_uring_probe*>(memory.get());
  if (syscall(__NR_io_uring_register, ringFd, IORING_REGISTER_PROBE, probe, kOps) < 0) return false;
  auto supported = [&](uint8_t op) { return op <= probe->last_op && (probe->ops[op].flags & IO_URING_OP_SUPPORTED); };
  for (uint8_t op : {kOpOpenat, kOpRead, kOpClose}) {
    if (!supported(op)) return false;
  }
  *openat2 = supported(kOpOpenat2);
  return true;
}

}  // namespace

Uring* Uring::ForThisThread() {
  if (t_ring) return t_ring->broken_ ? nullptr : t_ring.get();
  if (t_none || g_disabled.load(std::memory_order_relaxed)) {
    t_none = true;
    return nullptr;
  }
  std::unique_ptr<Uring> ring(new Uring());
  if (!ring->Setup()) {
    t_none = true;
    return nullptr;
  }
  t_ring = std::move(ring);
  return t_ring.get();
}

bool Uring::Setup() {
  io_uring_params params;
  std::memset(&params, 0, sizeof params);
#if defined(IORING_SETUP_SINGLE_ISSUER) && defined(IORING_SETUP_DEFER_TASKRUN)
  // One thread submits and reaps: completions are run when it waits (Linux 6.1 on).
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  ringFd_ = static_cast<int>(syscall(__NR_io_uring_setup, kMaxBatch, &params));
  if (ringFd_ < 0 && errno == EINVAL) {
    std::memset(&params, 0, sizeof params);
    ringFd_ = static_cast<int>(syscall(__NR_io_uring_setup, kMaxBatch, &params));
  }
#else
  ringFd_ = static_cast<int>(syscall(__NR_io_uring_setup, kMaxBatch, &params));
#endif
  if (ringFd_ < 0) return false;
  if (params.sq_entries < kMaxBatch || params.cq_entries < kMaxBatch || !Supports(ringFd_, &hasOpenat2_)) return false;
  size_t sqBytes = params.sq_off.array + params.sq_entries * sizeof(unsigned);
  size_t cqBytes = params.cq_off.cqes + params.cq_entries * sizeof(io_uring_cqe);
  bool single = (params.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single && cqBytes > sqBytes) sqBytes = cqBytes;
  void* sq = mmap(nullptr, sqBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ringFd_, IORING_OFF_SQ_RING);
  if (sq == MAP_FAILED) return false;
  sqRing_ = sq;
  sqRingBytes_ = sqBytes;
  void* cq = sq;
  if (!single) {
    // Never unmapped (kernels without the single mapping predate the operations probed for, so
    // this does not run where Supports passed): left for the process's exit.
    cq = mmap(nullptr, cqBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ringFd_, IORING_OFF_CQ_RING);
    if (cq == MAP_FAILED) return false;
  }
  size_t sqeBytes = params.sq_entries * sizeof(io_uring_sqe);
  void* sqes = mmap(nullptr, sqeBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ringFd_, IORING_OFF_SQES);
  if (sqes == MAP_FAILED) return false;
  sqes_ = sqes;
  sqesBytes_ = sqeBytes;
  char* s = static_cast<char*>(sq);
  char* c = static_cast<char*>(cq);
  sqHead_ = reinterpret_cast<unsigned*>(s + params.sq_off.head);
  sqTail_ = reinterpret_cast<unsigned*>(s + params.sq_off.tail);
  sqMask_ = reinterpret_cast<unsigned*>(s + params.sq_off.ring_mask);
  sqArray_ = reinterpret_cast<unsigned*>(s + params.sq_off.array);
  cqHead_ = reinterpret_cast<unsigned*>(c + params.cq_off.head);
  cqTail_ = reinterpret_cast<unsigned*>(c + params.cq_off.tail);
  cqMask_ = reinterpret_cast<unsigned*>(c + params.cq_off.ring_mask);
  cqes_ = c + params.cq_off.cqes;
  return true;
}

Uring::~Uring() {
  if (sqes_) munmap(sqes_, sqesBytes_);
  if (sqRing_) munmap(sqRing_, sqRingBytes_);
  if (ringFd_ >= 0) close(ringFd_);
}

void Uring::Openat(int dirfd, const char* name, int flags, mode_t mode) {
  queued_.push_back({kOpOpenat, dirfd, name, 0, 0, flags, mode});
}

void Uring::OpenatBeneath(int dirfd, const char* path, int flags) {
  queued_.push_back({kOpOpenat2, dirfd, path, 0, 0, flags, 0});
}

void Uring::Read(int fd, void* into, unsigned length, uint64_t offset) {
  queued_.push_back({kOpRead, fd, into, length, offset, 0, 0});
}

void Uring::Close(int fd) {
  queued_.push_back({kOpClose, fd, nullptr, 0, 0, 0, 0});
}

bool Uring::Run(std::vector<int>* answers) {
  g_runs.fetch_add(1, std::memory_order_relaxed);
  answers->assign(queued_.size(), -ECANCELED);
  auto* sqes = static_cast<io_uring_sqe*>(sqes_);
  auto* cqes = static_cast<io_uring_cqe*>(cqes_);
  for (size_t at = 0; at < queued_.size() && !broken_; at += kMaxBatch) {
    unsigned n = static_cast<unsigned>(std::min<size_t>(kMaxBatch, queued_.size() - at));
    unsigned tail = *sqTail_;  // only this thread writes it
    unsigned mask = *sqMask_;
    // What openat2 requests point to: read by the kernel as they are submitted (Enter, below).
    open_how hows[kMaxBatch];
    for (unsigned i = 0; i < n; i++) {
      const Request& r = queued_[at + i];
      unsigned index = (tail + i) & mask;
      io_uring_sqe* sqe = &sqes[index];
      std::memset(sqe, 0, sizeof *sqe);
      sqe->opcode = r.op;
      sqe->fd = r.fd;
      sqe->user_data = at + i;
      if (r.op == kOpOpenat) {
        sqe->addr = reinterpret_cast<uintptr_t>(r.ptr);
        sqe->open_flags = static_cast<uint32_t>(r.flags);
        sqe->len = r.mode;
      } else if (r.op == kOpOpenat2) {
        std::memset(&hows[i], 0, sizeof hows[i]);
        hows[i].flags = static_cast<uint64_t>(static_cast<uint32_t>(r.flags));
        hows[i].resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        sqe->addr = reinterpret_cast<uintptr_t>(r.ptr);
        sqe->len = sizeof hows[i];
        sqe->off = reinterpret_cast<uintptr_t>(&hows[i]);
      } else if (r.op == kOpRead) {
        sqe->addr = reinterpret_cast<uintptr_t>(r.ptr);
        sqe->len = r.length;
        sqe->off = r.offset;
      }
      sqArray_[index] = index;
    }
    __atomic_store_n(sqTail_, tail + n, __ATOMIC_RELEASE);
    unsigned done = 0;
    while (done < n) {
      unsigned unsubmitted = tail + n - __atomic_load_n(sqHead_, __ATOMIC_ACQUIRE);
      // Submits the rest and waits for every answer still missing, in one call where it can.
      if (Enter(ringFd_, unsubmitted, n - done) < 0 && errno != EINTR && errno != EAGAIN && errno != EBUSY) {
        broken_ = true;  // a request may have run or not: nothing is known
        break;
      }
      unsigned head = *cqHead_;
      unsigned cqTail = __atomic_load_n(cqTail_, __ATOMIC_ACQUIRE);
      for (; head != cqTail; head++) {
        const io_uring_cqe& cqe = cqes[head & *cqMask_];
        if (cqe.user_data < answers->size()) (*answers)[cqe.user_data] = cqe.res;
        done++;
      }
      __atomic_store_n(cqHead_, head, __ATOMIC_RELEASE);
    }
  }
  queued_.clear();
  return !broken_;
}

#else  // no io_uring here

Uring* Uring::ForThisThread() { return nullptr; }
bool Uring::Setup() { return false; }
Uring::~Uring() {}
void Uring::Openat(int, const char*, int, mode_t) {}
void Uring::OpenatBeneath(int, const char*, int) {}
void Uring::Read(int, void*, unsigned, uint64_t) {}
void Uring::Close(int) {}
bool Uring::Run(std::vector<int>* answers) {
  answers->assign(queued_.size(), -ENOSYS);
  queued_.clear();
  return false;
}

#endif

}  // namespace blit
