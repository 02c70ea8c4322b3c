// Whole files that arrived in memory, landed off the JS thread. A remote session's destination
// receives small files in batches (one data-plane record, up to 4096 files); writing each on the
// event loop (~65 µs and six system calls a file) left the sockets unread meanwhile. Here each
// batch is one job for a pool of two native threads — never libuv's shared pool, never the JS
// thread — and JS goes on decoding while files land. Per file, the rules of fsops/receive-file.ts
// (which the pure-JS twin in fsops/land-files.ts follows): every byte written, mode and mtime
// (atime = mtime, as everywhere in blit) set through the descriptor, and only then the file under
// its final name, never through anything planted there. Where the kernel has O_TMPFILE the file
// fills unnamed and is linked under its name before its close (a failed close unlinks it again;
// a file replaced gets its name through its temp name and a rename: LandUnnamed); elsewhere a temp
// file created exclusively (O_EXCL | O_NOFOLLOW), its close checked, is renamed over the final
// name. Any failure removes what was named.
//
// Not the copy pool (copy_pool.cc): that is one per local run, started with the run's activity
// board and closed with it, and its batches carry no JavaScript values. A landing job holds the
// caller's buffers (referenced, never copied) and its own callback, which only the JS thread may
// release. Two threads: while one lands a batch the next can start, and the machine's other core is
// the JS thread's.
//
// Lifetime, as the copy pool's: the threads start with the first job and are never joined; the
// pool is never freed. While a job is queued or running its answer keeps the process alive (the
// thread-safe function is referenced), and once it is delivered — whatever its callback then does —
// nothing does. poolsIdle() is false meanwhile (a temp file may be half written). When the
// environment goes (process exit, a worker ending), a cleanup hook marks it gone: no thread starts
// another job or calls into it, and jobs never answered are left, their references with them (they
// may be released only on the JS thread).

#include "land.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "owner.h"
#include "copy.h"
#include "fresh.h"
#include "manifest.h"
#include "read_checked.h"
#include "sparse.h"
#include "xattr.h"

namespace blit {

namespace {

constexpr int kLandThreads = 2;

struct LandFile {
  std::string dir, temp, name;
  const char* data = nullptr;
  size_t size = 0;
  uint32_t mode = 0;
  // A range of an open file instead (writeRanges): written at `offset` into `fd`, nothing else.
  int fd = -1;
  // A small file to read instead (a readWholeFiles job): `path`, read whole into `into` (`size`
  // bytes) if it is as listed (`sec`, `nsec`); its answer is ReadWholeAt's.
  std::string path;
  char* into = nullptr;
  int64_t offset = 0;
  // False when the create mode, after the umask, is the mode already: no fchmod.
  bool chmod = true;
  int64_t sec = 0;
  int64_t nsec = 0;
  Owner owner;  // given before the mode (owner.h)
  // The source has holes: the all-zero pages written become holes again (sparse.h PunchZeroPages).
  bool sparse = false;
  // The kinds of xattrs kept (xattr.h kKeep*; 0: none), and the source's: set on the temp file
  // before its mode and its rename, what it started with (inherited) removed.
  int keep = 0;
  Xattrs xattrs;
  // Created straight under its name (O_EXCL), no temp name and no link: only in a staging directory
  // no one sees under its final name until it is renamed into place (freshLand's `staged`).
  bool straight = false;
};

// Per file, what setting its xattrs did (xattr.h XattrOutcome): the four ints JS is given.
constexpr int kXattrInts = 4;

struct LandJob {
  std::vector<LandFile> files;
  std::vector<int32_t> errnos;
  std::vector<int32_t> ownerErrnos;  // -1: no owner given, 0: given, else the chown's errno
  // kXattrInts per file: xattrs attempted, their errno, ACLs attempted, their errno.
  std::vector<int32_t> xattrInts;
  Napi::ObjectReference views;  // the files' data, alive until the answer is delivered
  Napi::FunctionReference onDone;
  // A readWholeFiles job: its files are read, not landed.
  bool read = false;
  // readWholeFiles below a root: a duplicate of the caller's descriptor, closed by the thread once
  // the job is done (the caller may close its own meanwhile).
  WholeRoot root;
  // A sameAsManifestLater job: the directory open here (its descriptor closed by the thread once
  // listed) compared with a copy of the peer's records; `same` when equal, `listing` then filled.
  bool compare = false;
  int dirFd = -1;
  std::string peer;
  uint32_t filterStatus = 0, filterMet = 0, refusedFileModes = 0;
  bool same = false;
  SameListing listing;
  // The directory compared, for the caller to check it is still the one its path names.
  uint64_t dev = 0, ino = 0;

  ~LandJob() {
    if (dirFd >= 0) close(dirFd);
  }
};

struct LandPool {
  napi_env env = nullptr;
  std::mutex lock;
  std::condition_variable changed;
  std::deque<LandJob*> queue;
  bool gone = false;
  int inFlight = 0;  // JS thread only
  Napi::ThreadSafeFunction tsfn;
};

// One pool per environment (the main thread's, a worker's), found by its env.
std::mutex g_poolsLock;

std::vector<LandPool*>& Pools() {
  static auto* pools = new std::vector<LandPool*>();
  return *pools;
}

LandPool* FindPool(napi_env env) {
  std::lock_guard<std::mutex> guard(g_poolsLock);
  for (LandPool* pool : Pools()) {
    if (pool->env == env) return pool;
  }
  return nullptr;
}

// Fills a file just created for `file` (its descriptor `fd`): every byte, holes punched again,
// owner, xattrs, mode and times, in that order. 0 or the errno of the step that failed.
int FillNewFile(int fd, const LandFile& file, DirCache& dirs, int32_t* ownerErr, int32_t* xattrInts) {
  if (!WriteAll(fd, file.data, file.size, 0)) return errno;
  if (file.sparse) {
    int err = PunchZeroPages(fd, file.size, file.data);
    if (err != 0) return err;
  }
  // What a file made here starts with, once per directory: no fchown where it has the owner, no
  // read of its own xattrs where it starts with none.
  if (file.owner.wanted() || file.keep != 0) NewFileFacts(dirs);
  OwnerOutcome owner = GiveNewFileOwner(fd, dirs, file.owner);
  if (owner.tried) *ownerErr = owner.err;
  bool chmod = file.chmod;
  if (file.keep != 0) {
    XattrOutcome outcome = ApplyNewFileXattrs(fd, dirs, file.xattrs, file.keep);
    xattrInts[0] = outcome.xattrs;
    xattrInts[1] = outcome.xattrErr;
    xattrInts[2] = outcome.acls;
    xattrInts[3] = outcome.aclErr;
    // An ACL moves the mode's group bits: the mode is set again after it.
    if (outcome.aclTouched) chmod = true;
  }
  if (chmod && fchmod(fd, file.mode & 07777) != 0) return errno;
  struct timespec times[2];
  times[0].tv_sec = static_cast<time_t>(file.sec);
  times[0].tv_nsec = static_cast<long>(file.nsec);
  times[1] = times[0];
  if (futimens(fd, times) != 0) return errno;
  return 0;
}

#if defined(O_TMPFILE) && defined(AT_EMPTY_PATH)
// How an unnamed file (O_TMPFILE) gets its name here: linkat(fd, "", AT_EMPTY_PATH) (Linux 6.10+
// for anyone who opened the file, before that only with CAP_DAC_READ_SEARCH), else through
// /proc/self/fd; where neither works, or a file system has no O_TMPFILE, files land through a named
// temp file instead. Found at the first file, then kept for the process.
enum TmpfileLink : int { kLinkUnknown = 0, kLinkEmptyPath = 1, kLinkProc = 2, kNoTmpfile = 3 };
std::atomic<int> g_tmpfileLink{kLinkUnknown};

// Test hook (BLIT_TEST_NO_TMPFILE=1, read once): land through named temp files only, as on a
// file system without O_TMPFILE.
bool TmpfileDisabledForTests() {
  static const bool disabled = EnvIsOne("BLIT_TEST_NO_TMPFILE");
  return disabled;
}

// Names the unnamed file `fd` (at, name): 0, or the errno of the link (EEXIST: the name is taken).
// -1: neither way of linking works in this process (nothing linked).
int LinkTmpfile(int fd, int at, const std::string& name) {
  int how = g_tmpfileLink.load(std::memory_order_relaxed);
  if (how != kLinkProc) {
    if (linkat(fd, "", at, name.c_str(), AT_EMPTY_PATH) == 0) {
      if (how == kLinkUnknown) g_tmpfileLink.store(kLinkEmptyPath, std::memory_order_relaxed);
      return 0;
    }
    // EEXIST (and ENOSPC, EDQUOT, EMLINK...) are the name's or the disk's answer, not the way's.
    if (errno != ENOENT && errno != EPERM && errno != EINVAL) return errno;
    if (how == kLinkEmptyPath) return errno;
  }
  std::string self = "/proc/self/fd/" + std::to_string(fd);
  if (linkat(AT_FDCWD, self.c_str(), at, name.c_str(), AT_SYMLINK_FOLLOW) == 0) {
    g_tmpfileLink.store(kLinkProc, std::memory_order_relaxed);
    return 0;
  }
  int err = errno;
  // Only a way that is missing turns unnamed files off (no /proc, or refused there too): a full
  // disk or a directory removed meanwhile is this file's failure, reported as such.
  if (how == kLinkProc || (err != EPERM && access("/proc/self/fd", F_OK) == 0)) return err;
  g_tmpfileLink.store(kNoTmpfile, std::memory_order_relaxed);
  return -1;
}

// Lands one file through an unnamed file (O_TMPFILE) in its directory, linked under its name once
// filled, or under its temp name then renamed over the file already there. A file that fails midway
// never had a name: nothing to remove (but what was linked, when its close fails). -1: O_TMPFILE or
// its linking is not to be had here (nothing done; the caller lands it through a named temp file).
int LandUnnamed(const LandFile& file, DirCache& dirs, int at, const std::string& tempName, const std::string& finalName,
                int32_t* ownerErr, int32_t* xattrInts) {
  int fd = openat(at, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, file.mode & 0777);
  if (fd < 0) {
    // No O_TMPFILE on this file system (EOPNOTSUPP; EISDIR or EINVAL from kernels without it).
    if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL) {
      dirs.noTmpfile = true;
      return -1;
    }
    return errno;
  }
  int err = FillNewFile(fd, file, dirs, ownerErr, xattrInts);
  if (err != 0) {
    close(fd);
    return err;
  }
  const std::string* linked = &finalName;
  err = LinkTmpfile(fd, at, finalName);
  if (err == EEXIST) {
    // Replacing a file: under the temp name first, renamed over it below (atomically).
    linked = &tempName;
    err = LinkTmpfile(fd, at, tempName);
  }
  if (err != 0) {
    close(fd);
    return err;
  }
  if (close(fd) != 0) {
    err = errno;
    unlinkat(at, linked->c_str(), 0);
    return err;
  }
  if (linked == &tempName && renameat(at, tempName.c_str(), at, finalName.c_str()) != 0) {
    err = errno;
    unlinkat(at, tempName.c_str(), 0);
  }
  return err;
}
#endif  // O_TMPFILE && AT_EMPTY_PATH

// Lands one file; returns 0 or the errno of the step that failed (the temp file then removed).
int LandOne(const LandFile& file, DirCache& dirs, int32_t* ownerErr, int32_t* xattrInts) {
  if (file.dir.empty() || file.dir.find('\0') != std::string::npos || !IsName(file.temp) ||
      !IsName(file.name) || file.nsec < 0 || file.nsec > 999999999) {
    // A nanosecond count outside a second would be read as UTIME_NOW or UTIME_OMIT.
    return EINVAL;
  }
  int at;
  std::string tempName, finalName;
  dirs.Locate(file.dir + "/" + file.temp, &at, &tempName);
  dirs.Locate(file.dir + "/" + file.name, &at, &finalName);
  if (file.straight) {
    // Made here, never found: what fails midway is removed, never left under the name.
    int fd = openat(at, finalName.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, file.mode & 0777);
    if (fd < 0) return errno;
    int err = FillNewFile(fd, file, dirs, ownerErr, xattrInts);
    if (close(fd) != 0 && err == 0) err = errno;
    if (err != 0) unlinkat(at, finalName.c_str(), 0);
    return err;
  }
  // Unnamed while it fills: one name made instead of a temp name made and renamed, and a process
  // killed midway leaves nothing behind. Only through the directory's own descriptor (never ".").
#if defined(O_TMPFILE) && defined(AT_EMPTY_PATH)
  if (at != AT_FDCWD && !dirs.noTmpfile && g_tmpfileLink.load(std::memory_order_relaxed) != kNoTmpfile &&
      !TmpfileDisabledForTests()) {
    int landed = LandUnnamed(file, dirs, at, tempName, finalName, ownerErr, xattrInts);
    if (landed != -1) return landed;
  }
#endif
  int fd = openat(at, tempName.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, file.mode & 0777);
  if (fd < 0) return errno;
  int err = FillNewFile(fd, file, dirs, ownerErr, xattrInts);
  if (close(fd) != 0 && err == 0) err = errno;
  if (err == 0 && renameat(at, tempName.c_str(), at, finalName.c_str()) != 0) err = errno;
  if (err != 0) unlinkat(at, tempName.c_str(), 0);
  return err;
}

// On the JS thread: the job's answer.
void Deliver(Napi::Env env, LandPool* pool, LandJob* job) {
  std::unique_ptr<LandJob> owned(job);
  if (--pool->inFlight == 0) pool->tsfn.Unref(env);
  if (owned->compare) {
    Napi::Value answer = env.Undefined();
    if (owned->same) {
      Napi::Object same = SameListingValue(env, owned->listing).As<Napi::Object>();
      same.Set("dev", Napi::BigInt::New(env, owned->dev));
      same.Set("ino", Napi::BigInt::New(env, owned->ino));
      answer = same;
    }
    owned->onDone.Value().Call({answer});
    return;
  }
  size_t n = owned->errnos.size();
  Napi::Int32Array errnos = Napi::Int32Array::New(env, n);
  if (n > 0) std::memcpy(errnos.Data(), owned->errnos.data(), n * sizeof(int32_t));
  Napi::Int32Array ownerErrnos = Napi::Int32Array::New(env, owned->ownerErrnos.size());
  if (!owned->ownerErrnos.empty())
    std::memcpy(ownerErrnos.Data(), owned->ownerErrnos.data(), owned->ownerErrnos.size() * sizeof(int32_t));
  Napi::Int32Array xattrInts = Napi::Int32Array::New(env, owned->xattrInts.size());
  if (!owned->xattrInts.empty())
    std::memcpy(xattrInts.Data(), owned->xattrInts.data(), owned->xattrInts.size() * sizeof(int32_t));
  Napi::Function onDone = owned->onDone.Value();
  // A JS exception here is Node's to report (Node 20: warning DEP0168, or an uncaught exception under
  // --force-node-api-uncaught-exceptions-policy); the process is no longer held either way.
  onDone.Call({errnos, ownerErrnos, xattrInts});
}

void LandThread(LandPool* pool) {
  std::unique_lock<std::mutex> lock(pool->lock);
  for (;;) {
    pool->changed.wait(lock, [&] { return !pool->queue.empty() || pool->gone; });
    if (pool->gone) return;
    LandJob* job = pool->queue.front();
    pool->queue.pop_front();
    lock.unlock();
    if (job->compare) {
      // Not equal when anything fails, memory included: the session then compares when it reads.
      try {
        std::vector<std::string_view> theirs;
        struct stat st;
        if (SplitRecords(reinterpret_cast<const uint8_t*>(job->peer.data()), job->peer.size(), &theirs) &&
            fstat(job->dirFd, &st) == 0) {
          job->dev = static_cast<uint64_t>(st.st_dev);
          job->ino = static_cast<uint64_t>(st.st_ino);
          Listed listed = GatherDir("/proc/self/fd/" + std::to_string(job->dirFd));
          job->same = SameAsRecords(listed, std::move(theirs), job->filterStatus, job->filterMet,
                                    job->refusedFileModes, &job->listing);
        }
      } catch (...) {
        job->same = false;
      }
      close(job->dirFd);
      job->dirFd = -1;
    } else {
      // Per job: a directory descriptor is never kept past the batch that named it.
      DirCache dirs;
      if (job->read) {
        std::vector<WholeFile> whole;
        whole.reserve(job->files.size());
        for (const LandFile& file : job->files) {
          whole.push_back({&file.path, file.into, static_cast<int64_t>(file.size), file.sec, file.nsec});
        }
        if (job->root.fd < 0) {
          ReadWholeGroup(whole.data(), whole.size(), dirs, job->errnos.data());
        } else {
          ReadWholeGroupBeneath(whole.data(), whole.size(), job->root, job->errnos.data());
        }
      } else {
        for (size_t i = 0; i < job->files.size(); i++) {
          const LandFile& file = job->files[i];
          int32_t unusedOwner = -1;
          int32_t unusedXattrs[kXattrInts] = {0, 0, 0, 0};
          int32_t* ownerErr = i < job->ownerErrnos.size() ? &job->ownerErrnos[i] : &unusedOwner;
          int32_t* xattrInts =
              (i + 1) * kXattrInts <= job->xattrInts.size() ? &job->xattrInts[i * kXattrInts] : unusedXattrs;
          job->errnos[i] = file.fd >= 0 ? (WriteAll(file.fd, file.data, file.size, file.offset) ? 0 : errno)
                                        : LandOne(file, dirs, ownerErr, xattrInts);
        }
      }
    }
    if (job->root.fd >= 0) {
      close(job->root.fd);
      job->root.fd = -1;
    }
    lock.lock();
    if (pool->gone) return;
    // Fails only while the environment closes; the job is left then (see the header).
    pool->tsfn.NonBlockingCall(job, [pool](Napi::Env env, Napi::Function, LandJob* done) { Deliver(env, pool, done); });
  }
}

LandPool* PoolOf(Napi::Env env) {
  if (LandPool* pool = FindPool(env)) return pool;
  auto* pool = new LandPool();
  pool->env = env;
  // The threads answer through one thread-safe function; each job names its own callback.
  Napi::Function ignored = Napi::Function::New(env, [](const Napi::CallbackInfo&) {});
  pool->tsfn = Napi::ThreadSafeFunction::New(env, ignored, "blit-land", 0, 1);
  pool->tsfn.Unref(env);
  napi_add_env_cleanup_hook(
      env,
      [](void* data) {
        auto* p = static_cast<LandPool*>(data);
        {
          std::lock_guard<std::mutex> guard(g_poolsLock);
          auto& pools = Pools();
          pools.erase(std::remove(pools.begin(), pools.end(), p), pools.end());
        }
        std::lock_guard<std::mutex> guard(p->lock);
        p->gone = true;
        p->changed.notify_all();
      },
      pool);
  for (int i = 0; i < kLandThreads; i++) std::thread(LandThread, pool).detach();
  std::lock_guard<std::mutex> guard(g_poolsLock);
  Pools().push_back(pool);
  return pool;
}

// Queues a job built on the JS thread: its views and callback held until the answer.
void Enqueue(Napi::Env env, std::unique_ptr<LandJob> job, Napi::Array views, Napi::Function onDone) {
  job->views = Napi::Persistent(views.As<Napi::Object>());
  job->onDone = Napi::Persistent(onDone);
  LandPool* pool = PoolOf(env);
  if (pool->inFlight++ == 0) pool->tsfn.Ref(env);
  std::lock_guard<std::mutex> guard(pool->lock);
  pool->queue.push_back(job.release());
  pool->changed.notify_one();
}

// A temp name for a file freshLand lands (the form of fsops/temp-path.ts: `.blit-PID-` and 12 hex
// digits), counted on from a random start: JavaScript counts its own names from another, and a
// temp file is opened exclusively, so a clash fails a file, never clobbers one. JS thread only.
std::string FreshTempName() {
  static const std::string prefix = ".blit-" + std::to_string(getpid()) + "-";
  static uint64_t count = std::random_device{}() & 0xFFFFFFFFFFFFull;
  count = (count + 1) & 0xFFFFFFFFFFFFull;
  char hex[13];
  snprintf(hex, sizeof hex, "%012llx", static_cast<unsigned long long>(count));
  return prefix + hex + ".tmp";
}

}  // namespace

// freshLand(table, dir, indices: Uint32Array, views: Uint8Array[], onDone, staged?): the table's
// files `indices` land in `dir` (as landFiles names a directory) with the bytes of `views` (each
// exactly its file's size), as landFiles lands its jobs; onDone as landFiles'. `staged`: `dir` is a
// staging directory of this session's own (fresh-files.ts), seen by no one under its final name
// until renamed into place: each file is created straight under its name (O_EXCL), with no temp
// name or link, and removed if it fails midway. Throws (a TypeError or RangeError) before queuing
// anything when the arguments do not fit the table.
Napi::Value FreshLand(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  FreshTable& table = FreshTableArg(info[0]);
  if (!info[1].IsString() || !info[2].IsTypedArray() ||
      info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array || !info[3].IsArray() ||
      !info[4].IsFunction()) {
    throw Napi::TypeError::New(env, "freshLand(table, dir, indices: Uint32Array, views, onDone)");
  }
  const std::string dir = PathArg(info[1]);
  const bool staged = info.Length() > 5 && info[5].ToBoolean().Value();
  auto indices = info[2].As<Napi::Uint32Array>();
  Napi::Array views = info[3].As<Napi::Array>();
  const size_t n = indices.ElementLength();
  if (views.Length() != n) throw Napi::TypeError::New(env, "freshLand: one view per index");
  auto job = std::make_unique<LandJob>();
  job->files.resize(n);
  job->errnos.assign(n, 0);
  job->ownerErrnos.assign(n, -1);
  job->xattrInts.assign(n * kXattrInts, 0);
  Napi::Array held = Napi::Array::New(env, n);
  for (uint32_t i = 0; i < n; i++) {
    const uint32_t index = indices[i];
    if (index >= table.files.size()) throw Napi::RangeError::New(env, "freshLand: no such file");
    const FreshFile& fresh = table.files[index];
    Napi::Value data = views.Get(i);
    if (!data.IsTypedArray() || data.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
        data.As<Napi::Uint8Array>().ByteLength() != fresh.size) {
      throw Napi::TypeError::New(env, "freshLand: each view must be a Uint8Array of its file's size");
    }
    auto bytes = data.As<Napi::Uint8Array>();
    held.Set(i, data);
    LandFile& file = job->files[i];
    file.data = reinterpret_cast<const char*>(bytes.Data());
    file.size = bytes.ByteLength();
    file.dir = dir;
    file.temp = FreshTempName();
    file.name = fresh.name;
    file.mode = fresh.mode;
    // fsops/metadata.ts needsChmod: what the create mode, after the umask, leaves out.
    const uint32_t createMode = fresh.mode & 0777;
    file.chmod = fresh.mode != createMode || (createMode & table.umask) != 0;
    file.sec = fresh.sec;
    file.nsec = fresh.nsec;
    if (fresh.owned) {
      file.owner.uid = fresh.uid;
      file.owner.gid = fresh.gid;
    }
    // Read by the source and none: what the file inherits here is removed, as landFiles does.
    file.keep = fresh.xattrsRead ? table.keep : 0;
    file.straight = staged;
  }
  Enqueue(env, std::move(job), held, info[4].As<Napi::Function>());
  return env.Undefined();
}

// landFiles(jobs, onDone): see land.h. Throws (a TypeError) before queuing anything when a job is
// malformed; per-file failures come back as errnos (EINVAL: temp or name not a single name, dir
// empty or holding a NUL, nanoseconds outside 0..999,999,999).
Napi::Value LandFiles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray() || !info[1].IsFunction()) throw Napi::TypeError::New(env, "landFiles(jobs, onDone)");
  Napi::Array jobs = info[0].As<Napi::Array>();
  uint32_t n = jobs.Length();
  auto job = std::make_unique<LandJob>();
  job->files.resize(n);
  job->errnos.assign(n, 0);
  job->ownerErrnos.assign(n, -1);
  job->xattrInts.assign(static_cast<size_t>(n) * kXattrInts, 0);
  // The views themselves, in an array of our own: the caller's objects may change meanwhile.
  Napi::Array views = Napi::Array::New(env, n);
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value element = jobs.Get(i);
    if (!element.IsObject()) throw Napi::TypeError::New(env, "landFiles: each job must be an object");
    Napi::Object object = element.As<Napi::Object>();
    Napi::Value data = object.Get("data");
    if (!data.IsTypedArray() || data.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw Napi::TypeError::New(env, "landFiles: data must be a Uint8Array");
    }
    auto bytes = data.As<Napi::Uint8Array>();
    LandFile& file = job->files[i];
    file.data = reinterpret_cast<const char*>(bytes.Data());
    file.size = bytes.ByteLength();
    views.Set(i, data);
    file.dir = PathArg(object.Get("dir"));
    file.temp = PathArg(object.Get("temp"));
    file.name = PathArg(object.Get("name"));
    file.mode = object.Get("mode").As<Napi::Number>().Uint32Value();
    Napi::Value chmod = object.Get("chmod");
    file.chmod = !chmod.IsBoolean() || chmod.As<Napi::Boolean>().Value();
    file.sec = object.Get("mtimeSec").As<Napi::Number>().Int64Value();
    file.nsec = object.Get("mtimeNsec").As<Napi::Number>().Int64Value();
    Napi::Value sparse = object.Get("sparse");
    file.sparse = sparse.IsBoolean() && sparse.As<Napi::Boolean>().Value();
    Napi::Value keep = object.Get("keep");
    if (keep.IsNumber()) {
      file.keep = keep.As<Napi::Number>().Int32Value() & kKeepBoth;
      file.xattrs = ParseXattrs(object.Get("xattrs"));
    }
    Napi::Value uid = object.Get("uid"), gid = object.Get("gid");
    if (uid.IsNumber() && gid.IsNumber()) {
      file.owner.uid = uid.As<Napi::Number>().Uint32Value();
      file.owner.gid = gid.As<Napi::Number>().Uint32Value();
    }
  }
  Enqueue(env, std::move(job), views, info[1].As<Napi::Function>());
  return env.Undefined();
}

// writeRanges(ranges, onDone): see land.h. Each range is written at its offset into its descriptor,
// which the caller keeps open until the answer.
Napi::Value WriteRanges(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray() || !info[1].IsFunction()) throw Napi::TypeError::New(env, "writeRanges(ranges, onDone)");
  Napi::Array ranges = info[0].As<Napi::Array>();
  uint32_t n = ranges.Length();
  auto job = std::make_unique<LandJob>();
  job->files.resize(n);
  job->errnos.assign(n, 0);
  Napi::Array views = Napi::Array::New(env, n);
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value element = ranges.Get(i);
    if (!element.IsObject()) throw Napi::TypeError::New(env, "writeRanges: each range must be an object");
    Napi::Object object = element.As<Napi::Object>();
    Napi::Value data = object.Get("data");
    if (!data.IsTypedArray() || data.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw Napi::TypeError::New(env, "writeRanges: data must be a Uint8Array");
    }
    int32_t fd = object.Get("fd").As<Napi::Number>().Int32Value();
    int64_t offset = object.Get("offset").As<Napi::Number>().Int64Value();
    if (fd < 0 || offset < 0) throw Napi::TypeError::New(env, "writeRanges: fd and offset must not be negative");
    auto bytes = data.As<Napi::Uint8Array>();
    LandFile& range = job->files[i];
    range.data = reinterpret_cast<const char*>(bytes.Data());
    range.size = bytes.ByteLength();
    range.fd = fd;
    range.offset = offset;
    views.Set(i, data);
  }
  Enqueue(env, std::move(job), views, info[1].As<Napi::Function>());
  return env.Undefined();
}

// Seconds a timespec takes without overflow anywhere (2^62).
constexpr double kMaxSeconds = 4611686018427387904.0;

// A whole number in [min, max] (checked before any cast: casting a double outside int64_t is
// undefined).
bool IsWhole(double value, double min, double max) {
  return value >= min && value <= max && value == std::floor(value);
}

// readWholeFiles(paths, listed, into, onDone): see land.h. Throws (a TypeError) before queuing
// anything when the arguments do not fit together.
Napi::Value ReadWholeFiles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray() || !info[1].IsTypedArray() || !info[2].IsTypedArray() || !info[3].IsFunction() ||
      !(info[4].IsUndefined() || info[4].IsObject())) {
    throw Napi::TypeError::New(env, "readWholeFiles(paths, listed, into, onDone, root?)");
  }
  Napi::Array paths = info[0].As<Napi::Array>();
  Napi::TypedArray listedArray = info[1].As<Napi::TypedArray>();
  Napi::TypedArray intoArray = info[2].As<Napi::TypedArray>();
  if (listedArray.TypedArrayType() != napi_float64_array || intoArray.TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "readWholeFiles: listed must be a Float64Array, into a Uint8Array");
  }
  Napi::Float64Array listed = listedArray.As<Napi::Float64Array>();
  Napi::Uint8Array into = intoArray.As<Napi::Uint8Array>();
  uint32_t n = paths.Length();
  if (listed.ElementLength() != static_cast<size_t>(n) * 3) {
    throw Napi::TypeError::New(env, "readWholeFiles: listed must hold size, mtimeSec and mtimeNsec per path");
  }
  auto job = std::make_unique<LandJob>();
  job->read = true;
  job->files.resize(n);
  job->errnos.assign(n, 0);
  char* base = reinterpret_cast<char*>(into.Data());
  size_t room = into.ByteLength();
  size_t at = 0;
  for (uint32_t i = 0; i < n; i++) {
    double size = listed[i * 3];
    double sec = listed[i * 3 + 1];
    double nsec = listed[i * 3 + 2];
    // Whole numbers only: a size must fit what is left of `into`, the nanoseconds a second.
    if (!IsWhole(size, 0, static_cast<double>(room - at)) || !IsWhole(sec, -kMaxSeconds, kMaxSeconds) ||
        !IsWhole(nsec, 0, 999999999)) {
      throw Napi::TypeError::New(env, "readWholeFiles: a size outside into, or an mtime that is not whole");
    }
    LandFile& file = job->files[i];
    file.path = PathArg(paths.Get(i));
    file.size = static_cast<size_t>(size);
    file.into = base + at;
    file.sec = static_cast<int64_t>(sec);
    file.nsec = static_cast<int64_t>(nsec);
    at += file.size;
  }
  if (info[4].IsObject()) {
    Napi::Object root = info[4].As<Napi::Object>();
    Napi::Value fd = root.Get("fd");
    if (!fd.IsNumber() || !IsWhole(fd.As<Napi::Number>().DoubleValue(), 0, 2147483647.0)) {
      throw Napi::TypeError::New(env, "readWholeFiles: root.fd must be a descriptor");
    }
    job->root.path = PathArg(root.Get("path"));
    job->root.walk = root.Get("walk").ToBoolean().Value();
    job->root.fd = fcntl(fd.As<Napi::Number>().Int32Value(), F_DUPFD_CLOEXEC, 0);
    if (job->root.fd < 0) throw ErrnoError(env, errno, "dup", "");
  }
  Napi::Array views = Napi::Array::New(env, 1);
  views.Set(0u, into);
  Enqueue(env, std::move(job), views, info[3].As<Napi::Function>());
  return env.Undefined();
}

// punchZeros(fd, size): see land.h. On the calling (JS) thread; returns 0 or an errno.
Napi::Value PunchZeros(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsNumber()) throw Napi::TypeError::New(env, "punchZeros(fd, size)");
  int32_t fd = info[0].As<Napi::Number>().Int32Value();
  int64_t size = info[1].As<Napi::Number>().Int64Value();
  if (fd < 0 || size < 0) throw Napi::TypeError::New(env, "punchZeros: fd and size must not be negative");
  return Napi::Number::New(env, PunchZeroPages(fd, static_cast<uint64_t>(size)));
}

bool LandingIdle(napi_env env) {
  LandPool* pool = FindPool(env);
  return pool == nullptr || pool->inFlight == 0;
}

// sameAsManifestLater(path, entries, filterStatus, filterMet, refusedFileModes, onDone) -> boolean:
// sameAsManifest's comparison on the landing threads. The directory is opened here (not through a
// link in its place) and listed there through that descriptor; false, nothing queued, when it
// cannot be opened. onDone(answer) gets what sameAsManifest would have answered, with the listed
// directory's `dev` and `ino` (bigints) when equal.
Napi::Value SameAsManifestLater(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
      !info[5].IsFunction()) {
    throw Napi::TypeError::New(env, "sameAsManifestLater(path, entries, filterStatus, filterMet, refused, onDone)");
  }
  std::string path = PathArg(info[0]);
  auto peer = info[1].As<Napi::Uint8Array>();
  auto job = std::make_unique<LandJob>();
  job->compare = true;
  job->peer.assign(reinterpret_cast<const char*>(peer.Data()), peer.ByteLength());
  job->filterStatus = info[2].As<Napi::Number>().Uint32Value();
  job->filterMet = info[3].As<Napi::Number>().Uint32Value();
  job->refusedFileModes = info[4].As<Napi::Number>().Uint32Value();
  job->dirFd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (job->dirFd < 0) return Napi::Boolean::New(env, false);
  Enqueue(env, std::move(job), Napi::Array::New(env, 0), info[5].As<Napi::Function>());
  return Napi::Boolean::New(env, true);
}

}  // namespace blit
