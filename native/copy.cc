// See copy.h.

#include "copy.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <thread>

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

#include "board.h"
#include "common.h"
#include "listing.h"
#include "sparse.h"
#include "whole_dir.h"

namespace blit {

bool WriteAll(int fd, const char* data, size_t size, off_t offset) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = pwrite(fd, data + done, size - done, offset + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

namespace {

thread_local uint64_t t_tempBase = 0;

int MkdirParents(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return 0;
  std::string parent = path.substr(0, slash);
  if (mkdir(parent.c_str(), 0777) == 0 || errno == EEXIST) return 0;
  if (errno != ENOENT) return errno;
  int err = MkdirParents(parent);
  if (err != 0) return err;
  if (mkdir(parent.c_str(), 0777) == 0 || errno == EEXIST) return 0;
  return errno;
}

// Kernel copies go in chunks of this size: each one beats the stall detector and moves progress.
constexpr uint64_t kChunk = 64ULL << 20;

}  // namespace

int CopyRange(int in, int out, uint64_t from, uint64_t to, Scratch& buffer, int32_t* stage, bool* changed) {
  uint64_t done = from;
  while (done < to) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(to - done, buffer.size()));
    ssize_t n = pread(in, buffer.data(), want, static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      *stage = kStageSource;
      return errno;
    }
    if (n == 0) {
      *changed = true;
      return 0;
    }
    if (!WriteAll(out, buffer.data(), static_cast<size_t>(n), static_cast<off_t>(done))) {
      *stage = kStageDest;
      return errno;
    }
    done += static_cast<uint64_t>(n);
    Wrote(static_cast<uint64_t>(n));
    if ((done & (kChunk - 1)) < static_cast<uint64_t>(n)) {
      Beat();
      if (done < to && Cancelled()) {
        *stage = kStageDest;
        return ECANCELED;
      }
    }
  }
  return 0;
}

namespace {

// Copies exactly `size` bytes from in to out. Returns 0, or an errno; *stage says which side failed;
// *changed is set when the source turned out shorter than declared.
int CopyData(int in, int out, uint64_t size, Scratch& buffer, int32_t* stage, bool* changed,
             bool* endChecked) {
  uint64_t done = 0;
  if (size < buffer.size()) {
    // Small file: one read of size + 1 bytes both copies it and shows whether it grew.
    size_t want = static_cast<size_t>(size) + 1;
    size_t got = 0;
    while (got < want) {
      ssize_t n = pread(in, buffer.data() + got, want - got, static_cast<off_t>(got));
      if (n < 0) {
        if (errno == EINTR) continue;
        *stage = kStageSource;
        return errno;
      }
      if (n == 0) break;
      got += static_cast<size_t>(n);
      if (got == size) {
        // A short read of a regular file is its end; the fstat afterwards catches later growth.
        break;
      }
    }
    *endChecked = true;
    if (got != size) {
      *changed = true;
      return 0;
    }
    if (!WriteAll(out, buffer.data(), static_cast<size_t>(size), 0)) {
      *stage = kStageDest;
      return errno;
    }
    Wrote(size);
    return 0;
  }
#if defined(__linux__) && defined(SYS_copy_file_range)
  if (size > buffer.size()) {
    bool kernel = true;
    while (done < size) {
      loff_t inOff = static_cast<loff_t>(done);
      loff_t outOff = static_cast<loff_t>(done);
      size_t chunk = static_cast<size_t>(std::min<uint64_t>(size - done, kChunk));
      ssize_t n = syscall(SYS_copy_file_range, in, &inOff, out, &outOff, chunk, 0u);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP) {
          kernel = false;
          break;
        }
        *stage = (errno == ENOSPC || errno == EDQUOT || errno == EFBIG || errno == EROFS) ? kStageDest : kStageSource;
        return errno;
      }
      if (n == 0) {
        *changed = true;
        return 0;
      }
      done += static_cast<uint64_t>(n);
      Wrote(static_cast<uint64_t>(n));
      Beat();
      if (done < size && Cancelled()) {
        *stage = kStageDest;
        return ECANCELED;
      }
    }
    if (kernel) return 0;
  }
#endif
  return CopyRange(in, out, done, size, buffer, stage, changed);
}

// Both files are compared this much at a time: two chunks stay in the CPU's cache between the
// reads and the comparison.
constexpr size_t kCompareChunk = 256 << 10;

// Compares `size` bytes of in and the file (dstAt, dstName). Returns 1 when equal, 0 when they differ (or dst
// cannot be read: then it is simply rewritten), -1 with errno set when the source cannot be read.
int SameContents(int in, int dstAt, const std::string& dstName, uint64_t size, Scratch& buffer, Scratch& other) {
  int fd = openat(dstAt, dstName.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return 0;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != size) {
    close(fd);
    return 0;
  }
  uint64_t done = 0;
  int same = 1;
  while (done < size && same == 1) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(size - done, kCompareChunk));
    ssize_t a = pread(in, buffer.data(), want, static_cast<off_t>(done));
    if (a < 0) {
      if (errno == EINTR) continue;
      same = -1;
      break;
    }
    ssize_t b = pread(fd, other.data(), want, static_cast<off_t>(done));
    if (a == 0 || b != a || memcmp(buffer.data(), other.data(), static_cast<size_t>(a)) != 0) {
      same = 0;
      break;
    }
    done += static_cast<uint64_t>(a);
    if ((done & (kChunk - 1)) < static_cast<uint64_t>(a)) {
      Beat();
      if (done < size && Cancelled()) {
        errno = ECANCELED;
        same = -1;
        break;
      }
    }
  }
  int saved = errno;
  close(fd);
  errno = saved;
  return same;
}

}  // namespace

std::string TempPathFor(const std::string& dst) {
  if (t_tempBase == 0) {
    uint64_t seed = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(&t_tempBase)) ^
                    (static_cast<uint64_t>(getpid()) << 32) ^ static_cast<uint64_t>(time(nullptr)) * 2654435761u;
    t_tempBase = (seed * 6364136223846793005ULL + 1442695040888963407ULL) & 0xFFFFFFFFFFFFULL;
  }
  t_tempBase = (t_tempBase + 1) & 0xFFFFFFFFFFFFULL;
  size_t slash = dst.rfind('/');
  std::string dir = slash == std::string::npos ? std::string(".") : dst.substr(0, slash);
  char name[64];
  // getpid() is a system call each time; the process does not change under us.
  static const int pid = static_cast<int>(getpid());
  snprintf(name, sizeof(name), "/.blit-%d-%012llx.tmp", pid,
           static_cast<unsigned long long>(t_tempBase));
  return dir + name;
}

// `.blit-<pid>-<12 hex>.tmp`, as fsops/temp-path.ts names them.
bool IsTempName(const std::string& name) {
  if (name.size() < 6 + 1 + 1 + 12 + 4 || name.compare(0, 6, ".blit-") != 0) return false;
  if (name.compare(name.size() - 4, 4, ".tmp") != 0) return false;
  size_t dash = name.find('-', 6);
  if (dash == std::string::npos || dash == 6 || name.size() - 4 - dash - 1 != 12) return false;
  for (size_t i = 6; i < dash; i++)
    if (name[i] < '0' || name[i] > '9') return false;
  for (size_t i = dash + 1; i < name.size() - 4; i++) {
    char c = name[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Whether a file created with mode & 0777 under `umask` still needs a chmod to get `mode`: special
// bits, or permission bits the umask strips (fsops/metadata.ts needsChmod).
bool NeedsChmod(uint32_t mode, uint32_t umask) {
  return mode != (mode & 0777) || (mode & 0777 & umask) != 0;
}

ThreadScratch& ScratchOfThread() {
  static thread_local ThreadScratch scratch;
  return scratch;
}

// renameat(2) that fails with EEXIST rather than replace what is at `to` (ENOSYS or EINVAL where the
// system or the file system cannot promise that).
int RenameNoReplace(int fromAt, const char* from, int toAt, const char* to) {
#if defined(__linux__) && defined(SYS_renameat2)
  return static_cast<int>(syscall(SYS_renameat2, fromAt, from, toAt, to, 1 /* RENAME_NOREPLACE */));
#else
  errno = ENOSYS;
  return -1;
#endif
}

// Moves `from` to the name `to` only while nothing is there (EEXIST otherwise): RENAME_NOREPLACE;
// where the file system lacks it, a hard link, which fails the same way; where it has neither, a
// rename once the name is seen free (another process could take it in between).
int PlaceNoReplace(int fromAt, const char* from, int toAt, const char* to) {
  if (RenameNoReplace(fromAt, from, toAt, to) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  if (linkat(fromAt, from, toAt, to, 0) == 0) {
    unlinkat(fromAt, from, 0);
    return 0;
  }
  if (errno == EEXIST) return EEXIST;
  struct stat st;
  if (fstatat(toAt, to, &st, AT_SYMLINK_NOFOLLOW) == 0) return EEXIST;
  if (errno != ENOENT) return errno;
  return renameat(fromAt, from, toAt, to) == 0 ? 0 : errno;
}

// Tests only (setChangeSource, as util/env-faults.ts changeSource): the source file PATH changes
// while it is copied. Once its data is read (or compared), before the checks that it is still what
// the scan saw, its first byte is rewritten in place: same size, new mtime. Set from the main
// thread, read by the copy threads: behind a lock, checked only once set.
static std::atomic<bool> g_changeSourceSet{false};
static std::mutex g_changeSourceLock;
static std::string g_changeSource;

void ChangeSourceIfInjected(const std::string& src) {
  if (!g_changeSourceSet.load(std::memory_order_acquire)) return;
  {
    std::lock_guard<std::mutex> guard(g_changeSourceLock);
    if (src != g_changeSource) return;
  }
  int fd = open(src.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return;
  unsigned char byte;
  if (pread(fd, &byte, 1, 0) == 1) {
    byte ^= 0xff;
    if (pwrite(fd, &byte, 1, 0) != 1) perror("changeSource");
  }
  close(fd);
}

void ChangeSourceIfInjected(const std::string& base, const std::string& rel) {
  if (!g_changeSourceSet.load(std::memory_order_acquire)) return;
  ChangeSourceIfInjected(base == "/" ? "/" + rel : base + "/" + rel);
}

Napi::Value SetChangeSource(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> guard(g_changeSourceLock);
  g_changeSource = PathArg(info[0]);
  g_changeSourceSet.store(true, std::memory_order_release);
  return info.Env().Undefined();
}

namespace {

// Who this process creates files as (file-system ids, the effective ones here), asked once.
uint32_t OurUid() {
  static const uint32_t uid = geteuid();
  return uid;
}

uint32_t OurGid() {
  static const uint32_t gid = getegid();
  return gid;
}

}  // namespace

void NewFileFacts(DirCache& dirs) {
  if (dirs.factsRead) return;
  dirs.factsRead = true;
  dirs.startsBare = false;
  dirs.gidKnown = false;
  if (dirs.fd < 0) return;
  struct stat st;
  // Only where a new file is this process's and its group follows the directory's rules: not on
  // NFS (root squashed), FUSE, CIFS or vfat (owners by mount option), where fchown must ask.
  if (LocalChangeTimes(dirs.fd) && fstat(dirs.fd, &st) == 0) {
    bool setgid = (st.st_mode & S_ISGID) != 0;
    dirs.gidKnown = setgid || st.st_gid == OurGid();
    dirs.newGid = setgid ? st.st_gid : OurGid();
  }
  char names[4096];
  ssize_t n = llistxattr(dirs.dir.c_str(), names, sizeof names);
  if (n < 0) {
    // A file system without xattrs gives new files none; anything else leaves it unknown.
    dirs.startsBare = errno == ENOTSUP;
    return;
  }
  dirs.startsBare = true;
  for (ssize_t i = 0; i < n;) {
    const char* name = names + i;
    if (std::strcmp(name, "system.posix_acl_default") == 0 || std::strncmp(name, "security.", 9) == 0)
      dirs.startsBare = false;
    i += static_cast<ssize_t>(std::strlen(name)) + 1;
  }
}

OwnerOutcome GiveNewFileOwner(int fd, const DirCache& dirs, const Owner& owner) {
  bool has = owner.wanted() && owner.uid == OurUid() && dirs.gidKnown && owner.gid == dirs.newGid;
  return has ? OwnerOutcome{true, 0} : ApplyOwnerFd(fd, owner);
}

XattrOutcome ApplyNewFileXattrs(int fd, const DirCache& dirs, const Xattrs& wanted, int keep) {
  static const Xattrs kNone;
  return ApplyXattrs(fd, "", false, wanted, keep, dirs.startsBare ? &kNone : nullptr);
}

bool SameSizeAndMtime(const struct stat& st, uint64_t size, int64_t sec, int64_t nsec) {
#if defined(__APPLE__)
  const struct timespec& m = st.st_mtimespec;
#else
  const struct timespec& m = st.st_mtim;
#endif
  return static_cast<uint64_t>(st.st_size) == size && m.tv_sec == sec && m.tv_nsec == nsec;
}

void NoteXattrs(CopyResult* result, int readErr, const XattrOutcome& outcome) {
  if (readErr != 0) {
    // The source's could not be read: nothing is known of them, say so for both kinds.
    result->xattrs |= kXattrsFailed;
    result->xattrErr = readErr;
    return;
  }
  if (outcome.xattrs) result->xattrs |= outcome.xattrErr == 0 ? kXattrsApplied : kXattrsFailed;
  if (outcome.acls) result->xattrs |= outcome.aclErr == 0 ? kAclsApplied : kAclsFailed;
  if (result->xattrErr == 0) result->xattrErr = outcome.xattrErr != 0 ? outcome.xattrErr : outcome.aclErr;
}

CopyResult CopyOne(const std::string& src, const std::string& dst, uint64_t size, int64_t sec, int64_t nsec,
                   uint32_t mode, bool chmodAfter, bool removeSource, bool compareFirst, bool metadataMatches,
                   Scratch& buffer, Scratch& other, DirCache& srcDirs, DirCache& dstDirs,
                   Placement placement, Owner owner, int keepXattrs, bool sparse) {
  const bool direct = placement == kDirect;
  CopyResult result;
  int srcAt;
  std::string srcName;
  srcDirs.Locate(src, &srcAt, &srcName);
  int in = openat(srcAt, srcName.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (in < 0) {
    result.status = errno == ELOOP ? kChanged : kFailed;
    result.err = errno;
    result.stage = kStageSource;
    return result;
  }
  if (compareFirst) {
    // --checksum, locally: both files are here, so comparing bytes is cheaper than hashing both.
    int dstAt;
    std::string dstName;
    dstDirs.Locate(dst, &dstAt, &dstName);
    int same = SameContents(in, dstAt, dstName, size, buffer, other);
    if (same < 0) {
      result.status = kFailed;
      result.err = errno;
      result.stage = kStageSource;
      close(in);
      return result;
    }
    if (same == 1) {
      ChangeSourceIfInjected(src);
      struct stat st;
      bool unchanged = fstat(in, &st) == 0 && SameSizeAndMtime(st, size, sec, nsec);
      Xattrs wanted;
      int xattrReadErr = keepXattrs != 0 && !metadataMatches ? ReadXattrsFd(in, &wanted) : 0;
      close(in);
      if (!unchanged) {
        result.status = kChanged;
        result.stage = kStageSource;
        return result;
      }
      result.status = metadataMatches ? kUnchanged : kUpdated;
      if (!metadataMatches) {
        struct timespec times[2];
        times[0].tv_sec = static_cast<time_t>(sec);
        times[0].tv_nsec = static_cast<long>(nsec);
        times[1] = times[0];
        result.owner = ApplyOwnerAt(AT_FDCWD, dst.c_str(), owner);
        if (keepXattrs != 0) NoteXattrs(&result, xattrReadErr, ApplyXattrs(-1, dst, false, wanted, keepXattrs));
        if (chmod(dst.c_str(), mode & 07777) != 0 || utimensat(AT_FDCWD, dst.c_str(), times, 0) != 0) {
          result.status = kFailed;
          result.err = errno;
          result.stage = kStageDest;
          return result;
        }
      }
      if (removeSource && unlink(src.c_str()) != 0) {
        result.status = kCopiedSourceKept;
        result.err = errno;
        result.stage = kStageSource;
      }
      return result;
    }
  }
  std::string temp = direct ? dst : TempPathFor(dst);
  int dstAt;
  std::string dstName, tempName;
  dstDirs.Locate(dst, &dstAt, &dstName);
  dstDirs.Locate(temp, &dstAt, &tempName);
  int out = openat(dstAt, tempName.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0777);
  if (out < 0 && errno == ENOENT && !direct && MkdirParents(temp) == 0) {
    dstDirs.Forget();
    dstDirs.Locate(dst, &dstAt, &dstName);
    dstDirs.Locate(temp, &dstAt, &tempName);
    out = openat(dstAt, tempName.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0777);
  }
  if (out < 0) {
    result.status = kFailed;
    result.err = errno;
    close(in);
    return result;
  }
  bool changed = false;
  int32_t stage = kStageDest;
  bool endChecked = false;
  bool unsupported = false;
  int err = sparse ? CopySparse(in, out, size, buffer, &stage, &changed, &unsupported) : 0;
  if (!sparse || unsupported) err = CopyData(in, out, size, buffer, &stage, &changed, &endChecked);
  ChangeSourceIfInjected(src);
  if (err == 0 && !changed && !endChecked) {
    // One more byte means the source grew.
    char extra;
    ssize_t n = pread(in, &extra, 1, static_cast<off_t>(size));
    if (n > 0) changed = true;
  }
  struct stat st;
  if (err == 0 && !changed) {
    if (fstat(in, &st) != 0) {
      err = errno;
      stage = kStageSource;
    } else if (!SameSizeAndMtime(st, size, sec, nsec)) {
      changed = true;
    }
  }
  // The owner before the xattrs and the mode: chown clears security.capability and the setuid and
  // setgid bits. Its failure fails no file. Not where the new file has it already.
  if (err == 0 && !changed && (owner.wanted() || keepXattrs != 0)) NewFileFacts(dstDirs);
  if (err == 0 && !changed) result.owner = GiveNewFileOwner(out, dstDirs, owner);
  // xattrs and ACLs from descriptor to descriptor, before the mode (an ACL moves its group bits).
  if (err == 0 && !changed && keepXattrs != 0) {
    Xattrs wanted;
    int readErr = ReadXattrsFd(in, &wanted);
    XattrOutcome outcome = ApplyNewFileXattrs(out, dstDirs, wanted, keepXattrs);
    NoteXattrs(&result, readErr, outcome);
    if (outcome.aclTouched) chmodAfter = true;
  }
  close(in);
  // Mode and times through the open descriptor, after the last write and before the close.
  if (err == 0 && !changed && chmodAfter && fchmod(out, mode & 07777) != 0) {
    err = errno;
    stage = kStageDest;
  }
  if (err == 0 && !changed) {
    struct timespec times[2];
    times[0].tv_sec = static_cast<time_t>(sec);
    times[0].tv_nsec = static_cast<long>(nsec);
    times[1] = times[0];
    if (futimens(out, times) != 0) {
      err = errno;
      stage = kStageDest;
    }
  }
  if (close(out) != 0 && err == 0 && !changed) {
    err = errno;
    stage = kStageDest;
  }
  if (err == 0 && !changed && !direct) {
    int moved = placement == kNoReplace
                    ? PlaceNoReplace(dstAt, tempName.c_str(), dstAt, dstName.c_str())
                    : (renameat(dstAt, tempName.c_str(), dstAt, dstName.c_str()) == 0 ? 0 : errno);
    if (moved != 0) {
      err = moved;
      stage = kStageDest;
    }
  }
  if (err != 0 || changed) {
    unlinkat(dstAt, tempName.c_str(), 0);
    result.status = changed ? kChanged : kFailed;
    result.err = err;
    result.stage = stage;
    return result;
  }
  result.bytes = static_cast<double>(size);
  if (removeSource && unlinkat(srcAt, srcName.c_str(), 0) != 0) {
    result.status = kCopiedSourceKept;
    result.err = errno;
    result.stage = kStageSource;
  }
  return result;
}

CopyBatch::CopyBatch() = default;
CopyBatch::CopyBatch(CopyBatch&&) noexcept = default;
CopyBatch::~CopyBatch() = default;

CopyBatch ParseBatch(const Napi::Value& value) {
  CopyBatch batch;
  auto object = value.As<Napi::Object>();
  auto srcs = object.Get("srcs").As<Napi::Array>();
  auto dsts = object.Get("dsts").As<Napi::Array>();
  auto rels = object.Get("rels").As<Napi::Array>();
  auto sizes = object.Get("sizes").As<Napi::Float64Array>();
  auto secs = object.Get("secs").As<Napi::Float64Array>();
  auto nsecs = object.Get("nsecs").As<Napi::Uint32Array>();
  auto modes = object.Get("modes").As<Napi::Uint32Array>();
  auto flags = object.Get("flags").As<Napi::Uint8Array>();
  uint32_t n = srcs.Length();
  Napi::Value uids = object.Get("uids"), gids = object.Get("gids");
  if (uids.IsTypedArray() && gids.IsTypedArray()) {
    auto u = uids.As<Napi::Uint32Array>(), g = gids.As<Napi::Uint32Array>();
    for (uint32_t i = 0; i < n && i < u.ElementLength() && i < g.ElementLength(); i++) {
      Owner owner;
      owner.uid = u[i];
      owner.gid = g[i];
      batch.owners.push_back(owner);
    }
  }
  batch.srcs.reserve(n);
  batch.dsts.reserve(n);
  batch.rels.reserve(n);
  for (uint32_t i = 0; i < n; i++) {
    batch.srcs.push_back(PathArg(srcs.Get(i)));
    batch.dsts.push_back(PathArg(dsts.Get(i)));
    batch.rels.push_back(rels.Get(i).As<Napi::String>().Utf8Value());
    batch.sizes.push_back(static_cast<uint64_t>(sizes[i]));
    batch.secs.push_back(static_cast<int64_t>(secs[i]));
    batch.nsecs.push_back(static_cast<int64_t>(nsecs[i]));
    batch.modes.push_back(modes[i]);
    batch.flags.push_back(flags[i]);
  }
  return batch;
}

// Each file is shown on the activity board (`show`) before its copy starts, so a stall names the one
// that hangs, not the batch's first.
void RunBatch(CopyBatch& batch, const std::function<void(const std::string&)>& show) {
  Scratch& buffer = ScratchOfThread().buffer;
  Scratch& other = ScratchOfThread().other;
  DirCache srcDirs, dstDirs;
  size_t n = batch.srcs.size();
  batch.status.assign(n, 0);
  batch.err.assign(n, 0);
  batch.stage.assign(n, 0);
  batch.bytes.assign(n, 0);
  batch.ownerErr.assign(n, -1);
  batch.xattrs.assign(n, 0);
  batch.xattrErr.assign(n, 0);
  batch.done = 0;
  for (size_t i = 0; i < n; i++) {
    if (Cancelled()) break;  // the rest is left; done says how far the batch got
    show("copy: " + batch.rels[i]);
    if (static_cast<int>(i) == batch.hangIndex) std::this_thread::sleep_for(std::chrono::seconds(60));
    if (batch.delayMs > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(batch.delayMs));
      Beat();
    }
    uint8_t f = batch.flags[i];
    CopyResult r = CopyOne(batch.srcs[i], batch.dsts[i], batch.sizes[i], batch.secs[i], batch.nsecs[i],
                           batch.modes[i], (f & kChmodAfter) != 0, (f & kRemoveSource) != 0, (f & kCompareFirst) != 0,
                           (f & kMetadataMatches) != 0, buffer, other, srcDirs, dstDirs, kRenameOver,
                           i < batch.owners.size() ? batch.owners[i] : Owner(),
                           ((f & kBatchKeepXattrs) != 0 ? kKeepXattrs : 0) | ((f & kBatchKeepAcls) != 0 ? kKeepAcls : 0),
                           (f & kSparse) != 0);
    batch.status[i] = r.status;
    batch.err[i] = r.err;
    batch.stage[i] = r.stage;
    batch.bytes[i] = r.bytes;
    if (r.owner.tried) batch.ownerErr[i] = r.owner.err;
    batch.xattrs[i] = r.xattrs;
    batch.xattrErr[i] = r.xattrErr;
    batch.done = static_cast<uint32_t>(i + 1);
    Beat();
    if (r.status == kFailed && r.stage == kStageDest && (r.err == ENOSPC || r.err == EDQUOT || r.err == EROFS)) break;
  }
}

Napi::Object BatchResult(Napi::Env env, const CopyBatch& batch) {
  size_t n = batch.status.size();
  auto status = Napi::Int32Array::New(env, n);
  auto errs = Napi::Int32Array::New(env, n);
  auto stages = Napi::Int32Array::New(env, n);
  auto bytes = Napi::Float64Array::New(env, n);
  auto ownerErrs = Napi::Int32Array::New(env, n);
  auto xattrs = Napi::Uint8Array::New(env, n);
  auto xattrErrs = Napi::Int32Array::New(env, n);
  for (size_t i = 0; i < n; i++) {
    ownerErrs[i] = i < batch.ownerErr.size() ? batch.ownerErr[i] : -1;
    xattrs[i] = batch.xattrs[i];
    xattrErrs[i] = batch.xattrErr[i];
    status[i] = batch.status[i];
    errs[i] = batch.err[i];
    stages[i] = batch.stage[i];
    bytes[i] = batch.bytes[i];
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("status", status);
  result.Set("errno", errs);
  result.Set("stage", stages);
  result.Set("bytes", bytes);
  result.Set("ownerErrno", ownerErrs);
  result.Set("xattrs", xattrs);
  result.Set("xattrErrno", xattrErrs);
  result.Set("done", Napi::Number::New(env, batch.done));
  return result;
}

// copyFiles(batch, beat?: Int32Array, written?: BigInt64Array, slots?: Uint8Array, slot?: number)
//   -> { status: Int32Array, errno: Int32Array, stage: Int32Array, bytes: Float64Array, done: number }
// Synchronous, on the calling thread (tiny jobs), which shows its file in the board's slot `slot`.
Napi::Value CopyFiles(const Napi::CallbackInfo& info) {
  CopyBatch batch = ParseBatch(info[0]);
  t_beat = OptionalInt32s(info, 1);
  t_cancel = CancelFlag(info, 1);
  t_written = OptionalInt64s(info, 2, kCounterWritten);
  uint8_t* slots = nullptr;
  size_t slotsLength = 0;
  if (info.Length() > 3 && info[3].IsTypedArray()) {
    auto array = info[3].As<Napi::Uint8Array>();
    slots = array.Data();
    slotsLength = array.ByteLength();
  }
  size_t slot = info.Length() > 4 && info[4].IsNumber() ? info[4].As<Napi::Number>().Uint32Value() : 0;
  auto show = [slots, slotsLength, slot](const std::string& text) { SetSlot(slots, slotsLength, slot, text); };
  RunBatch(batch, show);
  show("");
  t_beat = nullptr;
  t_cancel = nullptr;
  t_written = nullptr;
  return BatchResult(info.Env(), batch);
}

// setTimes(path, sec, nsec, noFollow): mtime and atime to the nanosecond.
Napi::Value SetTimes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = PathArg(info[0]);
  struct timespec times[2];
  times[0].tv_sec = static_cast<time_t>(info[1].As<Napi::Number>().Int64Value());
  times[0].tv_nsec = static_cast<long>(info[2].As<Napi::Number>().Int64Value());
  times[1] = times[0];
  int flags = info[3].ToBoolean() ? AT_SYMLINK_NOFOLLOW : 0;
  if (utimensat(AT_FDCWD, path.c_str(), times, flags) != 0) throw ErrnoError(env, errno, "utime", path);
  return env.Undefined();
}

}  // namespace blit
