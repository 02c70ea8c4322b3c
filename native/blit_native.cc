// blit's optional native fast path (Linux and other POSIX systems).
//
// - listDir: readdir + fstatat (+ readlinkat) of a whole directory in one call: the per-file stat cost
//   dominates converged mirrors, and one hop per directory replaces one per entry.
// - copyFiles: a batch of small/large file copies done entirely in C++ (temp file, copy_file_range or
//   pread/pwrite, nanosecond utimensat, rename), called from blit's own worker threads, never from
//   libuv's shared pool.
// - setTimes: utimensat with nanoseconds (Node's utimes goes through a double and lands on microseconds).
//
// Errors are reported as Node-style errors (code, errno, syscall, path) so the JavaScript side
// can treat them exactly like fs errors.

#include <napi.h>

#include "beneath.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <unordered_map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

namespace {

const char* ErrnoCode(int err) {
  switch (err) {
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EEXIST: return "EEXIST";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ENOSPC: return "ENOSPC";
    case EDQUOT: return "EDQUOT";
    case EROFS: return "EROFS";
    case ELOOP: return "ELOOP";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EIO: return "EIO";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case EXDEV: return "EXDEV";
    case ECANCELED: return "ECANCELED";
    case EBUSY: return "EBUSY";
    case ETXTBSY: return "ETXTBSY";
    case EINVAL: return "EINVAL";
    case EFBIG: return "EFBIG";
    case ENOMEM: return "ENOMEM";
    case EAGAIN: return "EAGAIN";
    case EINTR: return "EINTR";
    default: return "EUNKNOWN";
  }
}

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& path) {
  std::string message = std::string(ErrnoCode(err)) + ": " + strerror(err) + ", " + syscall + " '" + path + "'";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, ErrnoCode(err)));
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, syscall));
  error.Set("path", Napi::String::New(env, path));
  return error;
}

std::string PathArg(const Napi::Value& value) {
  if (value.IsBuffer()) {
    auto buffer = value.As<Napi::Buffer<char>>();
    return std::string(buffer.Data(), buffer.Length());
  }
  return value.As<Napi::String>().Utf8Value();
}

bool IsValidUtf8(const unsigned char* s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

Napi::Value NameValue(Napi::Env env, const char* s, size_t n) {
  if (IsValidUtf8(reinterpret_cast<const unsigned char*>(s), n)) return Napi::String::New(env, s, n);
  return Napi::Buffer<char>::Copy(env, s, n);
}

// Kinds, as the JavaScript side numbers them.
enum Kind : uint8_t { kFile = 0, kDir = 1, kSymlink = 2, kOther = 3, kGone = 4, kError = 5 };

struct ListedItem {
  std::string name;
  uint8_t kind;
  uint32_t mode;
  double size;
  double sec;
  uint32_t nsec;
  int err;
  bool hasLink;
  std::string link;
};

// One directory read with an lstat per entry, without touching JavaScript (so any thread may do it).
struct Listed {
  int err = 0;  // non-zero: the directory itself could not be read
  std::vector<ListedItem> items;
};

// An entry's mtime in nanoseconds since the epoch.
int64_t MtimeNs(const ListedItem& item) {
  return static_cast<int64_t>(item.sec) * 1000000000LL + static_cast<int64_t>(item.nsec);
}

// Tests only (setListingHang): listing this directory hangs for a minute, as on a hung mount. Set
// from the main thread, read by reader and copy threads: behind a lock, checked only once set.
std::atomic<bool> g_listingHangSet{false};
std::mutex g_listingHangLock;
std::string g_listingHang;

bool ListingHangs(const std::string& path) {
  if (!g_listingHangSet.load(std::memory_order_acquire)) return false;
  std::lock_guard<std::mutex> guard(g_listingHangLock);
  return path == g_listingHang;
}

Listed GatherDir(const std::string& path, bool noFollow = false) {
  if (ListingHangs(path)) std::this_thread::sleep_for(std::chrono::seconds(60));
  Listed out;
  int dirfd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | (noFollow ? O_NOFOLLOW : 0));
  if (dirfd < 0) {
    out.err = errno;
    return out;
  }
  DIR* dir = fdopendir(dirfd);
  if (!dir) {
    out.err = errno;
    close(dirfd);
    return out;
  }
  using Item = ListedItem;
  std::vector<Item>& items = out.items;
  errno = 0;
  for (;;) {
    struct dirent* d = readdir(dir);
    if (!d) break;
    const char* name = d->d_name;
    if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
    Item item{name, kGone, 0, 0, 0, 0, 0, false, {}};
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      item.kind = kError;
      item.err = errno;
    } else {
      item.mode = st.st_mode & 07777;
      item.size = static_cast<double>(st.st_size);
#if defined(__APPLE__)
      item.sec = static_cast<double>(st.st_mtimespec.tv_sec);
      item.nsec = static_cast<uint32_t>(st.st_mtimespec.tv_nsec);
#else
      item.sec = static_cast<double>(st.st_mtim.tv_sec);
      item.nsec = static_cast<uint32_t>(st.st_mtim.tv_nsec);
#endif
      if (S_ISREG(st.st_mode)) item.kind = kFile;
      else if (S_ISDIR(st.st_mode)) item.kind = kDir;
      else if (S_ISLNK(st.st_mode)) {
        item.kind = kSymlink;
        std::vector<char> buf(st.st_size > 0 ? static_cast<size_t>(st.st_size) + 1 : 4096);
        for (;;) {
          ssize_t n = readlinkat(dirfd, name, buf.data(), buf.size());
          if (n < 0) {
            item.kind = errno == ENOENT ? kGone : kError;
            item.err = errno;
            break;
          }
          if (static_cast<size_t>(n) < buf.size()) {
            item.hasLink = true;
            item.link.assign(buf.data(), static_cast<size_t>(n));
            break;
          }
          buf.resize(buf.size() * 2);
        }
        if (item.kind == kGone) continue;
      } else item.kind = kOther;
    }
    items.push_back(std::move(item));
    errno = 0;
  }
  int readErr = errno;
  closedir(dir);
  if (readErr != 0) {
    out.err = readErr;
    out.items.clear();
  }
  return out;
}

// ---- read-ahead ---------------------------------------------------------------------------------
// While the main thread turns one directory's listing into JavaScript objects and compares it, a
// background thread already reads the next ones (source and destination): on 2 cores this moves the
// getdents/lstat system calls off the main thread. Results are one-shot and keyed by path; listDir
// takes a finished one, waits for one in progress, or reads inline one not started. dropReadAhead()
// forgets everything (at the end of a scan, so no listing is ever used long after it was read).

constexpr size_t kReadAheadMax = 256;
constexpr int kReaders = 2;

struct ReadAheadSlot {
  bool started = false;
  bool done = false;
  Listed result;
};

// Never destroyed: the reader thread waits on the condition variable until the process ends, and a
// static one would block exit() in its destructor.
struct ReadAheadState {
  std::mutex lock;
  std::condition_variable work;  // readers wait for paths
  std::condition_variable done;  // listDir waits for a listing in progress
  std::deque<std::string> queue;
  std::unordered_map<std::string, std::shared_ptr<ReadAheadSlot>> slots;
  bool threadStarted = false;
};

ReadAheadState& RA() {
  static ReadAheadState* state = new ReadAheadState();
  return *state;
}

void ReadAheadThread() {
  ReadAheadState& ra = RA();
  std::unique_lock<std::mutex> lock(ra.lock);
  for (;;) {
    ra.work.wait(lock, [&] { return !ra.queue.empty(); });
    std::string path = std::move(ra.queue.front());
    ra.queue.pop_front();
    auto found = ra.slots.find(path);
    if (found == ra.slots.end() || found->second->started) continue;
    std::shared_ptr<ReadAheadSlot> slot = found->second;
    slot->started = true;
    lock.unlock();
    Listed result = GatherDir(path);
    lock.lock();
    slot->result = std::move(result);
    slot->done = true;
    ra.done.notify_all();
  }
}

// Queues `path` for the readers (next in line with `first`) unless it is queued or read already;
// the caller holds ra.lock and notifies ra.work.
void RequestLocked(ReadAheadState& ra, std::string path, bool first) {
  if (!ra.threadStarted) {
    for (int i = 0; i < kReaders; i++) std::thread(ReadAheadThread).detach();
    ra.threadStarted = true;
  }
  auto found = ra.slots.find(path);
  if (found != ra.slots.end()) {
    // Queued and not started: move it to the front (the queue holds at most kReadAheadMax paths).
    if (!first || found->second->started) return;
    auto queued = std::find(ra.queue.begin(), ra.queue.end(), path);
    if (queued != ra.queue.end()) ra.queue.erase(queued);
    ra.queue.push_front(std::move(path));
    return;
  }
  ra.slots.emplace(path, std::make_shared<ReadAheadSlot>());
  if (first) ra.queue.push_front(std::move(path));
  else ra.queue.push_back(std::move(path));
}

// readAhead(paths: string[]): queue these directories for the background reader (in order).
Napi::Value ReadAhead(const Napi::CallbackInfo& info) {
  auto paths = info[0].As<Napi::Array>();
  ReadAheadState& ra = RA();
  std::lock_guard<std::mutex> guard(ra.lock);
  for (uint32_t i = 0; i < paths.Length() && ra.slots.size() < kReadAheadMax; i++)
    RequestLocked(ra, PathArg(paths.Get(i)), false);
  ra.work.notify_all();
  return info.Env().Undefined();
}

// Has a reader list `path` (asked for first in line, unless it is already), waiting up to waitMs:
// false when it is not done by then (the listing goes on; listDir takes it later).
bool ListingWithin(const std::string& path, int waitMs) {
  ReadAheadState& ra = RA();
  std::unique_lock<std::mutex> lock(ra.lock);
  RequestLocked(ra, path, true);
  ra.work.notify_all();
  std::shared_ptr<ReadAheadSlot> slot = ra.slots.find(path)->second;
  return ra.done.wait_for(lock, std::chrono::milliseconds(waitMs), [&] { return slot->done; });
}

Napi::Value DropReadAhead(const Napi::CallbackInfo& info) {
  ReadAheadState& ra = RA();
  std::lock_guard<std::mutex> guard(ra.lock);
  ra.queue.clear();
  // A listing in progress finishes into its slot, which nobody holds any more.
  ra.slots.clear();
  return info.Env().Undefined();
}

// The read-ahead result for path if there is one (waiting for it when in progress), else a fresh read.
Listed TakeListing(const std::string& path) {
  ReadAheadState& ra = RA();
  {
    std::unique_lock<std::mutex> lock(ra.lock);
    auto found = ra.slots.find(path);
    if (found != ra.slots.end()) {
      std::shared_ptr<ReadAheadSlot> slot = found->second;
      ra.slots.erase(found);
      if (slot->started) {
        ra.done.wait(lock, [&] { return slot->done; });
        return std::move(slot->result);
      }
      // Not started: the queued path is skipped by the reader (its slot is gone); read it here.
    }
  }
  return GatherDir(path);
}

// listDir(path, waitMs?) -> { names, kinds, modes, sizes, mtimeNs (BigInt64Array), links, errnos } | undefined
// names: string, or Buffer when not valid UTF-8. kinds[i] == kGone: vanished; kError: errnos[i] says why.
// With waitMs: undefined when the listing takes longer than that (it goes on in a reader thread;
// call again, without waitMs, to take it).
Napi::Value ListDir(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = PathArg(info[0]);
  if (info.Length() > 1 && info[1].IsNumber() && !ListingWithin(path, info[1].As<Napi::Number>().Int32Value()))
    return env.Undefined();
  Listed listed = TakeListing(path);
  if (listed.err != 0) throw ErrnoError(env, listed.err, "scandir", path);
  std::vector<ListedItem>& items = listed.items;
  size_t n = items.size();
  Napi::Array names = Napi::Array::New(env, n);
  Napi::Array links = Napi::Array::New(env, n);
  auto kinds = Napi::Uint8Array::New(env, n);
  auto modes = Napi::Uint32Array::New(env, n);
  auto sizes = Napi::Float64Array::New(env, n);
  // Nanoseconds as BigInt64: the JS side reads a bigint per entry instead of building one.
  auto mtimes = Napi::TypedArrayOf<int64_t>::New(env, n, napi_bigint64_array);
  auto errnos = Napi::Int32Array::New(env, n);
  for (size_t i = 0; i < n; i++) {
    const ListedItem& item = items[i];
    names.Set(i, NameValue(env, item.name.data(), item.name.size()));
    kinds[i] = item.kind;
    modes[i] = item.mode;
    sizes[i] = item.size;
    mtimes[i] = MtimeNs(item);
    errnos[i] = item.err;
    if (item.hasLink) links.Set(i, NameValue(env, item.link.data(), item.link.size()));
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("names", names);
  result.Set("kinds", kinds);
  result.Set("modes", modes);
  result.Set("sizes", sizes);
  result.Set("mtimeNs", mtimes);
  result.Set("links", links);
  result.Set("errnos", errnos);
  return result;
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

// ---- copyFiles ---------------------------------------------------------------------------------

enum Status : int32_t { kCopied = 0, kFailed = 1, kChanged = 2, kCopiedSourceKept = 3, kUnchanged = 4, kUpdated = 5 };
enum Stage : int32_t { kStageSource = 0, kStageDest = 1 };

struct CopyResult {
  int32_t status = kCopied;
  int32_t err = 0;
  int32_t stage = kStageDest;
  double bytes = 0;
};

thread_local uint64_t t_tempBase = 0;

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

// The directory of the file a batch is on, kept open across the batch: consecutive files mostly
// share one, so the *at() calls below skip walking the whole path again for each system call.
// Falls back to (AT_FDCWD, full path) when the directory cannot be opened.
struct DirCache {
  std::string dir;
  int fd = -1;
  DirCache() = default;
  DirCache(const DirCache&) = delete;
  DirCache& operator=(const DirCache&) = delete;
  ~DirCache() {
    if (fd >= 0) close(fd);
  }
  // Sets *at and *name so that (at, name) names `file`.
  void Locate(const std::string& file, int* at, std::string* name) {
    size_t slash = file.rfind('/');
    if (slash == std::string::npos || slash == 0) {
      *at = AT_FDCWD;
      *name = file;
      return;
    }
    if (fd < 0 || file.compare(0, slash, dir) != 0 || dir.size() != slash) {
      if (fd >= 0) close(fd);
      dir.assign(file, 0, slash);
#ifdef O_PATH
      fd = open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
#else
      fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
#endif
    }
    if (fd < 0) {
      *at = AT_FDCWD;
      *name = file;
      return;
    }
    *at = fd;
    name->assign(file, slash + 1, std::string::npos);
  }
  // After creating missing parents: the directory may exist now.
  void Forget() {
    if (fd >= 0) close(fd);
    fd = -1;
    dir.clear();
  }
};

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

// Copies exactly `size` bytes from in to out. Returns 0, or an errno; *stage says which side failed;
// *changed is set when the source turned out shorter than declared.
// The activity board (util/activity-board.ts): header Int32s (beats, stopped, paused), then 32 slots
// of 512 bytes (2-byte length + UTF-8 text) saying what each thread does.
constexpr int kBeats = 0, kStopped = 1, kPaused = 2;
constexpr size_t kSlotBytes = 512, kSlots = 32;

// Progress beat for the stall detector: an Int32 in shared memory, bumped after each chunk.
thread_local int32_t* t_beat = nullptr;

void Beat() {
  if (t_beat) __atomic_fetch_add(t_beat, 1, __ATOMIC_SEQ_CST);
}

// The run was interrupted (the board's CANCELLED Int32, util/activity-board.ts): copies stop between
// files and between 64 MiB chunks, removing their temp file.
thread_local int32_t* t_cancel = nullptr;

bool Cancelled() {
  return t_cancel && __atomic_load_n(t_cancel, __ATOMIC_RELAXED) != 0;
}

// Live byte count for progress (a BigInt64 in shared memory): bytes written, files in flight included.
thread_local int64_t* t_written = nullptr;

void Wrote(uint64_t n) {
  if (t_written) __atomic_fetch_add(t_written, static_cast<int64_t>(n), __ATOMIC_SEQ_CST);
}

// Live entry count for progress (the BigInt64 after the byte count, when the board has one): entries
// a whole-directory job has dealt with so far, reported in full only when the job ends.
thread_local int64_t* t_dir_entries = nullptr;

void DealtWith() {
  if (t_dir_entries) __atomic_fetch_add(t_dir_entries, 1, __ATOMIC_RELAXED);
}

// What whole-directory jobs have listed so far, for the progress line's totals and ETA (three
// BigInt64s after those two, when the board has them): entries listed, bytes of the files the jobs
// will copy, and the change in directories still to list (each job, once listed: its
// subdirectories, which come back as jobs, minus itself). Each job reports its own figures again
// in its result, so JavaScript subtracts those of the jobs that ended.
thread_local int64_t* t_listed = nullptr;


// Kernel copies go in chunks of this size: each one beats the stall detector and moves progress.
constexpr uint64_t kChunk = 64ULL << 20;

// A copy thread's 1 MiB scratch buffer, left uninitialised: its pages are touched only as far as a
// file uses them. Zero-filling two of them up front (std::vector) cost ~10 ms per thread here, as a
// first touch costs ~20 µs per page on this VM — more than a whole one-file copy.
class Scratch {
 public:
  char* data() { return bytes_.get(); }
  size_t size() const { return kSize; }

 private:
  static constexpr size_t kSize = 1 << 20;
  std::unique_ptr<char[]> bytes_{new char[kSize]};
};

// The calling thread's two scratch buffers (a copy's, and a --checksum comparison's other side),
// shared by batches and whole-directory jobs.
struct ThreadScratch {
  Scratch buffer;
  Scratch other;
};

ThreadScratch& ScratchOfThread() {
  static thread_local ThreadScratch scratch;
  return scratch;
}

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
  while (done < size) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(size - done, buffer.size()));
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
      if (done < size && Cancelled()) {
        *stage = kStageDest;
        return ECANCELED;
      }
    }
  }
  return 0;
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

// How a copied file takes its name.
enum Placement {
  kRenameOver,  // a temp file renamed over the target (what is there was compared)
  kNoReplace,   // a temp file given the name only while it is free (PlaceNoReplace)
  kDirect,      // straight under its name, in a directory staged under a temp name (RunWholeDir),
                // where no one sees it before it is complete
};

CopyResult CopyOne(const std::string& src, const std::string& dst, uint64_t size, int64_t sec, int64_t nsec,
                   uint32_t mode, bool chmodAfter, bool removeSource, bool compareFirst, bool metadataMatches,
                   Scratch& buffer, Scratch& other, DirCache& srcDirs, DirCache& dstDirs,
                   Placement placement = kRenameOver) {
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
      struct stat st;
      bool unchanged = fstat(in, &st) == 0 && static_cast<uint64_t>(st.st_size) == size &&
#if defined(__APPLE__)
                       st.st_mtimespec.tv_sec == sec && st.st_mtimespec.tv_nsec == nsec;
#else
                       st.st_mtim.tv_sec == sec && st.st_mtim.tv_nsec == nsec;
#endif
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
  int err = CopyData(in, out, size, buffer, &stage, &changed, &endChecked);
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
    } else {
#if defined(__APPLE__)
      struct timespec m = st.st_mtimespec;
#else
      struct timespec m = st.st_mtim;
#endif
      if (static_cast<uint64_t>(st.st_size) != size || m.tv_sec != sec || m.tv_nsec != nsec) changed = true;
    }
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

// An --exclude pattern as engine/filter.ts namePattern gives it: literal characters and '*', and a
// trailing '/' for directories only, split once per job rather than per entry.
struct NamePattern {
  std::string body;  // without the trailing '/'
  bool dirOnly = false;
  bool leadingStar = false;
};

NamePattern ParseNamePattern(const std::string& text) {
  NamePattern pattern;
  pattern.dirOnly = !text.empty() && text.back() == '/';
  pattern.body = pattern.dirOnly ? text.substr(0, text.size() - 1) : text;
  pattern.leadingStar = !pattern.body.empty() && pattern.body[0] == '*';
  return pattern;
}

// A whole-directory job (see RunWholeDir below): what to copy, then what happened.
struct DirJob {
  std::string src, dst, rel;
  uint32_t umask = 022;
  // A fresh directory is made under a temp name beside its own (`stage`, by whoever found it
  // missing) and renamed to its own once filled.
  std::string stage;
  // A directory on both sides (syncDir) rather than a fresh one: compare, then copy what differs.
  bool sync = false;
  int32_t compare = 0;  // kCompare* below
  bool mirror = false;
  // --exclude patterns (engine/filter.ts nativeExcludes): matching entries are left out as if they
  // were not there (DropExcluded).
  std::vector<NamePattern> excludes;
  std::string hangName;  // tests only: the file whose copy hangs
  bool scanHang = false; // tests only: the listing hangs
  // Results.
  int placeErr = 0;  // fresh: the filled directory could not take its name (left under the temp one)
  bool noReplace = false;  // a big fresh one joined a directory made meanwhile: replace nothing there
  // How its files take their names (CopyOne).
  Placement placement() const { return !stage.empty() ? kDirect : noReplace ? kNoReplace : kRenameOver; }
  int listErr = 0;
  uint32_t entries = 0, files = 0, links = 0, others = 0;
  double bytes = 0;
  uint32_t handled = 0;  // files given to CopyOne (copied, or compared first), and their bytes
  double handledBytes = 0;
  // What AnnounceListing added to the board's totals: entries listed, bytes to copy, and the
  // change in directories still to list.
  bool announced = false;
  int64_t listedEntries = 0, listDelta = 0;
  double listedBytes = 0;
  std::vector<double> sizes;  // of the source's files, for the run's size histogram
  std::vector<std::string> dirNames;
  std::vector<std::string> dirStages;  // the temp name each was made under
  std::vector<uint32_t> dirModes;
  std::vector<int64_t> dirMtimes;
  std::vector<std::string> problemNames;
  std::vector<int32_t> problemKinds, problemStatus, problemErr, problemStage;
  bool fatal = false;
  // syncDir only.
  int dstListErr = 0;
  uint32_t skipped = 0, updated = 0;
  std::vector<std::string> bothNames;  // subdirectories on both sides: jobs of their own
  std::vector<uint32_t> bothModes;
  std::vector<int64_t> bothMtimes;
  std::vector<std::string> residual;  // source entries JavaScript reconciles itself (kind conflicts)
  std::vector<std::string> extraNames;  // mirror: destination entries the source lacks
  std::vector<uint8_t> extraKinds;
  std::vector<std::string> temps;  // destination temp files (JavaScript removes stale ones)
};

// A batch of copies as plain C++ data: parsed from JavaScript on the main thread, run on any thread.
struct CopyBatch {
  uint32_t id = 0;
  std::vector<std::string> srcs, dsts;
  std::vector<std::string> rels;  // what the activity board shows per file ("copy: " + rel)
  std::vector<uint64_t> sizes;
  std::vector<int64_t> secs, nsecs;
  std::vector<uint32_t> modes;
  std::vector<uint8_t> flags;
  std::string label;       // what the thread shows on the activity board while it runs the batch
  int delayMs = 0;         // tests only: every file takes this much longer (a slow mount)
  int hangIndex = -1;      // tests only: the file whose copy hangs (a hung mount)
  std::vector<int32_t> status, err, stage;
  std::vector<double> bytes;
  uint32_t done = 0;
  std::unique_ptr<DirJob> dirJob;  // set: a fresh-directory job (copyDir) instead of a batch
};

// A batch as fsops/copy-file.ts builds it (NativeBatch): { srcs: string[], dsts: string[], rels: string[],
// sizes: Float64Array, secs: Float64Array, nsecs: Uint32Array, modes: Uint32Array, flags: Uint8Array }
//   flags: 1 chmod after, 2 remove source, 4 compare contents first (--checksum), 8 metadata already matches
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
                           batch.modes[i], (f & 1) != 0, (f & 2) != 0, (f & 4) != 0, (f & 8) != 0, buffer, other,
                           srcDirs, dstDirs);
    batch.status[i] = r.status;
    batch.err[i] = r.err;
    batch.stage[i] = r.stage;
    batch.bytes[i] = r.bytes;
    batch.done = static_cast<uint32_t>(i + 1);
    Beat();
    if (r.status == kFailed && r.stage == kStageDest && (r.err == ENOSPC || r.err == EDQUOT || r.err == EROFS)) break;
  }
}

// ---- fresh directories ----------------------------------------------------------------------
// A directory blit has just created at the destination, with nothing in it, needs no comparison: a
// copy thread lists the source directory itself, copies its files, recreates its symbolic links and
// makes its subdirectories, which it hands back to JavaScript as jobs of their own. JavaScript then
// does nothing per file (engine/whole-dirs.ts); this is the local fast path for new trees.

// What went wrong with one entry, as engine/whole-dirs.ts turns it into a failure.
enum Problem : int32_t {
  kProblemName = 0,    // name not UTF-8: refused
  kProblemTarget = 1,  // symbolic link target not UTF-8: refused
  kProblemStat = 2,    // lstat failed (err)
  kProblemCopy = 3,    // file copy failed: status (kFailed or kChanged), err, stage as CopyOne says
  kProblemLink = 4,    // symbolic link not created (err)
  kProblemMkdir = 5,   // subdirectory not created (err)
  kProblemMeta = 6,    // mode or mtime not set (err)
  kProblemPlace = 7,   // not moved from the staging directory into one that appeared meanwhile (err)
};


void AddProblem(DirJob& job, const std::string& name, int32_t kind, int32_t status, int32_t err, int32_t stage) {
  job.problemNames.push_back(name);
  job.problemKinds.push_back(kind);
  job.problemStatus.push_back(status);
  job.problemErr.push_back(err);
  job.problemStage.push_back(stage);
}

int CopyLink(const std::string& dst, const std::string& target, int64_t sec, int64_t nsec, bool noReplace = false) {
  std::string temp = TempPathFor(dst);
  if (symlink(target.c_str(), temp.c_str()) != 0) return errno;
  struct timespec times[2];
  times[0].tv_sec = static_cast<time_t>(sec);
  times[0].tv_nsec = static_cast<long>(nsec);
  times[1] = times[0];
  int err = utimensat(AT_FDCWD, temp.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
  if (err == 0) {
    err = noReplace ? PlaceNoReplace(AT_FDCWD, temp.c_str(), AT_FDCWD, dst.c_str())
                    : (rename(temp.c_str(), dst.c_str()) == 0 ? 0 : errno);
  }
  if (err != 0) unlink(temp.c_str());
  return err;
}

// A directory made now (its mode and times are set by JavaScript once its contents are in). One
// that appeared meanwhile is used if it is a real directory.
int MakeDir(const std::string& path) {
  if (mkdir(path.c_str(), 0777) == 0) return 0;
  int err = errno;
  struct stat st;
  if (err == EEXIST && lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return 0;
  return err;
}

// Compare modes, as engine/whole-dirs.ts numbers them (engine/compare.ts says what each means).
constexpr int32_t kCompareDefault = 0, kCompareSizeOnly = 1, kCompareIgnoreTimes = 2, kCompareChecksum = 3,
                  kCompareIgnoreExisting = 4;
// Mtimes closer than this are equal (engine/compare.ts: times set without the addon are rounded).
constexpr int64_t kMtimeToleranceNs = 2000;

bool SameMtime(const ListedItem& a, const ListedItem& b) {
  int64_t diff = MtimeNs(a) - MtimeNs(b);
  return diff < kMtimeToleranceNs && diff > -kMtimeToleranceNs;
}

bool SameMetadata(const ListedItem& a, const ListedItem& b) {
  return (a.mode & 07777) == (b.mode & 07777) && SameMtime(a, b);
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

// What a whole-directory job's copy threads share while they run it.
struct DirWork {
  DirJob& job;
  int delayMs;
  Scratch& buffer;
  Scratch& other;
  DirCache srcDirs, dstDirs;
  DirWork(DirJob& j, int delay, Scratch& b, Scratch& o) : job(j), delayMs(delay), buffer(b), other(o) {}
};

// One file through CopyOne (compareFirst: --checksum, comparing bytes before copying), counted.
void CopyFileOf(DirWork& work, const ListedItem& item, const std::string& src, const std::string& dst,
                bool compareFirst, bool metadataMatches) {
  DirJob& job = work.job;
  if (item.name == job.hangName) std::this_thread::sleep_for(std::chrono::seconds(60));
  if (work.delayMs > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(work.delayMs));
    Beat();
  }
  uint32_t mode = item.mode;
  bool chmodAfter = mode != (mode & 0777) || (mode & 0777 & job.umask) != 0;
  job.handled++;
  job.handledBytes += item.size;
  CopyResult r = CopyOne(src, dst, static_cast<uint64_t>(item.size), static_cast<int64_t>(item.sec), item.nsec,
                         mode, chmodAfter, false, compareFirst, metadataMatches, work.buffer, work.other,
                         work.srcDirs, work.dstDirs, job.placement());
  Beat();
  switch (r.status) {
    case kCopied:
      job.files++;
      job.bytes += r.bytes;
      return;
    case kUnchanged:
      job.skipped++;
      return;
    case kUpdated:
      job.updated++;
      return;
    default:
      AddProblem(job, item.name, kProblemCopy, r.status, r.err, r.stage);
      if (r.status == kFailed && r.stage == kStageDest && (r.err == ENOSPC || r.err == EDQUOT || r.err == EROFS))
        job.fatal = true;
  }
}

// An entry the destination lacks: a file copied, a link recreated, a subdirectory made (under a temp
// name, handed back as a fresh job), anything else skipped.
void CopyNew(DirWork& work, const ListedItem& item, const std::string& src, const std::string& dst) {
  DirJob& job = work.job;
  switch (item.kind) {
    case kFile:
      CopyFileOf(work, item, src, dst, false, false);
      return;
    case kSymlink: {
      int err = CopyLink(dst, item.link, static_cast<int64_t>(item.sec), item.nsec, job.noReplace);
      if (err != 0) AddProblem(job, item.name, kProblemLink, 0, err, kStageDest);
      else job.links++;
      Beat();
      return;
    }
    case kDir: {
      // Under a temp name: its own job fills it and renames it (RunWholeDir). Made here, as the
      // listing goes, not by that job: made by the copy threads between their file copies, the
      // directories cost a 20,000-file copy on journal-less ext4 3.9–5.9 s instead of 1.6 s, in
      // inode allocation skipping recently deleted inodes (perf; docs/DECISIONS.md).
      std::string stage = TempPathFor(dst);
      if (mkdir(stage.c_str(), 0777) != 0) {
        AddProblem(job, item.name, kProblemMkdir, 0, errno, kStageDest);
        return;
      }
      job.dirNames.push_back(item.name);
      job.dirStages.push_back(stage.substr(stage.rfind('/') + 1));
      job.dirModes.push_back(item.mode);
      job.dirMtimes.push_back(MtimeNs(item));
      return;
    }
    default:
      job.others++;  // sockets, FIFOs, devices: skipped, as everywhere in blit
  }
}

// The decide() of engine/compare.ts for two entries of the same kind, and what follows from it,
// done here: skip, set metadata, or copy (the temp file and rename replace what is there).
// Whether source file `s` differs from destination file `d` without reading either (--checksum then
// compares contents; --ignore-existing never gets here).
bool Differs(const DirJob& job, const ListedItem& s, const ListedItem& d) {
  return job.compare == kCompareIgnoreTimes || s.size != d.size ||
         (job.compare == kCompareDefault && !SameMtime(s, d));
}

// The bytes of the files in `listed` that a job will copy (or compare first, under --checksum), as
// Sync decides for each, and how many subdirectories it lists.
void ToCopy(const DirJob& job, const Listed& listed,
            const std::unordered_map<std::string, const ListedItem*>& existing, int64_t& bytes, int64_t& subdirs) {
  bytes = subdirs = 0;
  for (const ListedItem& item : listed.items) {
    if (item.kind == kDir) subdirs++;
    if (item.kind != kFile) continue;
    auto found = existing.find(item.name);
    if (found == existing.end()) {
      bytes += static_cast<int64_t>(item.size);
      continue;
    }
    const ListedItem& d = *found->second;
    if (d.kind == kFile && job.compare != kCompareIgnoreExisting &&
        (job.compare == kCompareChecksum || Differs(job, item, d)))
      bytes += static_cast<int64_t>(item.size);
  }
}

void Sync(DirWork& work, const ListedItem& s, const ListedItem& d, const std::string& src, const std::string& dst) {
  DirJob& job = work.job;
  if (s.kind == kDir) {
    job.skipped++;
    job.bothNames.push_back(s.name);
    job.bothModes.push_back(s.mode);
    job.bothMtimes.push_back(MtimeNs(s));
    return;
  }
  if (s.kind == kSymlink) {
    if (job.compare != kCompareIgnoreTimes && s.link == d.link && SameMtime(s, d)) {
      job.skipped++;
      return;
    }
    int err = CopyLink(dst, s.link, static_cast<int64_t>(s.sec), s.nsec);
    if (err != 0) AddProblem(job, s.name, kProblemLink, 0, err, kStageDest);
    else job.links++;
    return;
  }
  if (s.kind != kFile) {
    job.skipped++;
    return;
  }
  bool copy = Differs(job, s, d);
  if (copy || job.compare == kCompareChecksum) {
    CopyFileOf(work, s, src, dst, !copy, !copy && SameMetadata(s, d));
    return;
  }
  if (SameMetadata(s, d)) {
    job.skipped++;
    return;
  }
  struct timespec times[2];
  times[0].tv_sec = static_cast<time_t>(s.sec);
  times[0].tv_nsec = static_cast<long>(s.nsec);
  times[1] = times[0];
  if (chmod(dst.c_str(), s.mode & 07777) != 0 || utimensat(AT_FDCWD, dst.c_str(), times, 0) != 0) {
    AddProblem(job, s.name, kProblemMeta, 0, errno, kStageDest);
    return;
  }
  job.updated++;
}

bool PlaceStage(DirJob& job);

// A new directory is filled under its temp name only while that puts little at stake: a killed run
// loses what its staging directories hold (the next run removes them and copies again), and a
// directory shows nothing under its name until it is full. Beyond these, it takes its name at once
// and its files go in one by one, each as a temp file renamed into place; the rename that staging
// saves costs little next to copying that much.
constexpr size_t kStageMaxFiles = 10000;
constexpr uint64_t kStageMaxBytes = 64ULL << 20;

bool WorthStaging(const Listed& listed) {
  size_t files = 0;
  uint64_t bytes = 0;
  for (const ListedItem& item : listed.items) {
    if (item.kind != kFile) continue;
    files++;
    bytes += static_cast<uint64_t>(item.size);
  }
  return files <= kStageMaxFiles && bytes <= kStageMaxBytes;
}

// Adds a job's listing to the board's totals (see t_listed), once per job.
void AnnounceListing(DirJob& job, int64_t entries, int64_t bytes, int64_t subdirs) {
  job.listedEntries = entries;
  job.listedBytes = static_cast<double>(bytes);
  job.listDelta = subdirs - 1;
  job.announced = true;
  if (!t_listed) return;
  __atomic_fetch_add(t_listed, entries, __ATOMIC_RELAXED);
  __atomic_fetch_add(t_listed + 1, bytes, __ATOMIC_RELAXED);
  __atomic_fetch_add(t_listed + 2, job.listDelta, __ATOMIC_RELAXED);
}

// Whether `name` matches `pattern`, made of literal characters and '*' (any run of characters,
// '/' aside, which names never hold). Bytes are compared as they are: for valid UTF-8 on both sides
// that is matching by characters, as picomatch does.
bool StarMatch(const std::string& pattern, const std::string& name) {
  size_t p = 0, n = 0, star = std::string::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      p++;
      n++;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') p++;
  return p == pattern.size();
}

// Leaves out the entries an --exclude matches. Entries the walk reports whatever the filters say
// (names or link targets that are not UTF-8, entries that cannot be stat'ed) stay, to be reported.
void DropExcluded(const DirJob& job, Listed& listed) {
  if (job.excludes.empty()) return;
  auto excluded = [&job](const ListedItem& item) {
    if (item.kind == kError) return false;
    if (!IsValidUtf8(reinterpret_cast<const unsigned char*>(item.name.data()), item.name.size())) return false;
    if (item.kind == kSymlink &&
        !IsValidUtf8(reinterpret_cast<const unsigned char*>(item.link.data()), item.link.size()))
      return false;
    // picomatch puts (?=.) before a leading '*': it matches no name that starts with a line
    // terminator (\n, \r, U+2028, U+2029), which JavaScript's '.' does not match.
    const std::string& name = item.name;
    bool terminatorFirst = name[0] == '\n' || name[0] == '\r' ||
                           (name.size() >= 3 && name.compare(0, 2, "\xE2\x80") == 0 &&
                            (name[2] == '\xA8' || name[2] == '\xA9'));
    for (const NamePattern& pattern : job.excludes) {
      if (pattern.dirOnly && item.kind != kDir) continue;
      if (terminatorFirst && pattern.leadingStar) continue;
      if (StarMatch(pattern.body, name)) return true;
    }
    return false;
  };
  auto& items = listed.items;
  items.erase(std::remove_if(items.begin(), items.end(), excluded), items.end());
}

// The work of a whole-directory job: lists the source (and for a sync job the destination too, never
// through a link), refuses what the walk refuses, then copies what is new, brings up to date what
// differs and, for a mirror, names what the source lacks. Entries of another kind on each side go
// back to JavaScript (residual), as do subdirectories (jobs of their own).
void FillDir(DirJob& job, int delayMs, const std::function<void(const std::string&)>& show) {
  Scratch& buffer = ScratchOfThread().buffer;
  Scratch& other = ScratchOfThread().other;
  show("scan: listing " + (job.rel.empty() ? std::string(".") : job.rel));
  if (job.scanHang) std::this_thread::sleep_for(std::chrono::seconds(60));
  Listed listed = GatherDir(job.src);
  if (listed.err != 0) {
    job.listErr = listed.err;
    return;
  }
  DropExcluded(job, listed);
  if (!job.stage.empty() && !WorthStaging(listed)) {
    job.noReplace = PlaceStage(job);  // still empty; joined a directory made meanwhile: see CopyOne
    job.stage.clear();
    if (job.placeErr != 0) return;
  }
  // Where the entries go; files straight under their names while the directory is staged.
  const std::string where = job.stage.empty() ? job.dst : job.stage;
  Listed there;
  std::unordered_map<std::string, const ListedItem*> existing;
  if (job.sync) {
    there = GatherDir(job.dst, true);
    if (there.err != 0) {
      job.dstListErr = there.err;
      return;
    }
    existing.reserve(there.items.size() * 2);
    for (const ListedItem& item : there.items) {
      if (item.kind == kError) continue;  // unreadable: neither compared nor deleted
      if (!IsValidUtf8(reinterpret_cast<const unsigned char*>(item.name.data()), item.name.size())) continue;
      if (IsTempName(item.name)) {
        if (item.kind == kFile || item.kind == kDir || item.kind == kSymlink) job.temps.push_back(item.name);
        continue;
      }
      existing.emplace(item.name, &item);
    }
  }
  int64_t toCopy = 0, subdirs = 0;
  ToCopy(job, listed, existing, toCopy, subdirs);
  AnnounceListing(job, static_cast<int64_t>(listed.items.size()), toCopy, subdirs);
  Beat();
  std::unordered_map<std::string, bool> listedHere;
  DirWork work(job, delayMs, buffer, other);
  std::string prefix = job.rel.empty() ? std::string() : job.rel + "/";
  for (const ListedItem& item : listed.items) {
    if (job.fatal || Cancelled()) break;
    job.entries++;
    DealtWith();
    const std::string& name = item.name;
    if (!IsValidUtf8(reinterpret_cast<const unsigned char*>(name.data()), name.size())) {
      AddProblem(job, name, kProblemName, 0, 0, kStageSource);
      continue;
    }
    if (item.kind == kError) {
      AddProblem(job, name, kProblemStat, 0, item.err, kStageSource);
      continue;
    }
    if (item.kind == kSymlink &&
        !IsValidUtf8(reinterpret_cast<const unsigned char*>(item.link.data()), item.link.size())) {
      AddProblem(job, name, kProblemTarget, 0, 0, kStageSource);
      continue;
    }
    if (job.mirror) listedHere.emplace(name, true);
    if (item.kind == kFile) {
      job.sizes.push_back(item.size);
      show("copy: " + prefix + name);
    }
    std::string src = job.src + "/" + name;
    std::string dst = where + "/" + name;
    auto found = existing.find(name);
    if (found == existing.end()) {
      CopyNew(work, item, src, dst);
      continue;
    }
    const ListedItem& d = *found->second;
    // --ignore-existing leaves whatever exists alone; a directory is still walked when both are one.
    if (job.compare == kCompareIgnoreExisting && !(item.kind == kDir && d.kind == kDir)) {
      job.skipped++;
      continue;
    }
    if (item.kind != d.kind) {
      job.residual.push_back(name);
      continue;
    }
    Sync(work, item, d, src, dst);
  }
  if (!job.mirror || job.fatal) return;
  for (const ListedItem& d : there.items) {
    if (d.kind == kError || IsTempName(d.name)) continue;
    if (!IsValidUtf8(reinterpret_cast<const unsigned char*>(d.name.data()), d.name.size())) continue;
    if (listedHere.count(d.name) != 0) continue;
    job.extraNames.push_back(d.name);
    job.extraKinds.push_back(d.kind);
  }
}

// One entry of a staging directory into the directory that took its name meanwhile, never over
// what is there: another process put it there during this run (with --ignore-existing, or any
// mode, blit does not replace what it has not compared). Subdirectories still under their own
// temp names cannot clash.
int MoveIn(int from, int into, const std::string& name) {
  if (IsTempName(name)) return renameat(from, name.c_str(), into, name.c_str()) == 0 ? 0 : errno;
  return PlaceNoReplace(from, name.c_str(), into, name.c_str());
}

// An entry that stayed in the staging directory: it did not reach the destination, so it is not
// counted, and a subdirectory left there gets no job.
void Uncount(DirJob& job, int from, const std::string& name) {
  struct stat st;
  if (fstatat(from, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  if (S_ISREG(st.st_mode)) {
    job.files--;
    job.bytes -= static_cast<double>(st.st_size);
  } else if (S_ISLNK(st.st_mode)) {
    job.links--;
  } else if (S_ISDIR(st.st_mode)) {
    for (size_t i = 0; i < job.dirStages.size(); i++) {
      if (job.dirStages[i] != name) continue;
      job.dirNames.erase(job.dirNames.begin() + i);
      job.dirStages.erase(job.dirStages.begin() + i);
      job.dirModes.erase(job.dirModes.begin() + i);
      job.dirMtimes.erase(job.dirMtimes.begin() + i);
      break;
    }
  }
}

// Gives a filled staging directory its own name. Where something took that name meanwhile (another
// run made the directory), the entries move into it one by one (MoveIn) and the empty staging
// directory goes; never through a symbolic link. True when it joined such a directory.
bool PlaceStage(DirJob& job) {
  if (RenameNoReplace(AT_FDCWD, job.stage.c_str(), AT_FDCWD, job.dst.c_str()) == 0) return false;
  int err = errno;
  if (err == EINVAL || err == ENOSYS) {
    // No NOREPLACE on this file system. A plain rename of a directory cannot replace anything that
    // holds an entry (ENOTEMPTY) or is not a directory (ENOTDIR, EEXIST); at most an empty directory.
    if (rename(job.stage.c_str(), job.dst.c_str()) == 0) return false;
    err = errno;
  }
  if (err != EEXIST && err != ENOTEMPTY && err != ENOTDIR) {
    job.placeErr = err;
    return false;
  }
  int made = MakeDir(job.dst);
  int into = made == 0 ? open(job.dst.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
  int from = into >= 0 ? open(job.stage.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
  DIR* listing = from >= 0 ? fdopendir(from) : nullptr;
  if (listing == nullptr) {
    job.placeErr = made != 0 ? made : errno;
    if (into >= 0) close(into);
    if (from >= 0) close(from);
    return false;
  }
  // Names first: renaming while reading could show an entry twice or not at all.
  std::vector<std::string> names;
  while (struct dirent* d = readdir(listing)) {
    if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0) names.emplace_back(d->d_name);
  }
  for (size_t i = 0; i < names.size(); i++) {
    int moveErr = MoveIn(from, into, names[i]);
    if (moveErr != 0) {
      Uncount(job, from, names[i]);
      AddProblem(job, names[i], kProblemPlace, 0, moveErr, kStageDest);
    }
    if (i % 256 == 255) Beat();
  }
  closedir(listing);
  close(into);
  // Not empty when an entry could not move: then it stays under the temp name, for a later run to remove.
  rmdir(job.stage.c_str());
  return true;
}

// A whole-directory job. A fresh one fills the directory made for it under a temp name beside its
// own (files go straight under their own names: no temp file and rename each) and renames it into
// place at the end, also when the job stopped early (a fatal error, a cancel), so the destination
// shows a directory only with complete files in it, as temp files show a file (a big one takes its
// name first: WorthStaging).
void RunWholeDir(DirJob& job, int delayMs, const std::function<void(const std::string&)>& show) {
  FillDir(job, delayMs, show);  // a big directory takes its name first (job.stage then empty)
  if (!job.announced) AnnounceListing(job, 0, 0, 0);  // stopped before its listing was complete
  if (!job.stage.empty()) PlaceStage(job);
  if (job.placeErr != 0) {
    // Nothing reached the destination: none of it counts as copied, and no subdirectory follows.
    job.files = job.links = 0;
    job.bytes = 0;
    job.dirNames.clear();
    job.dirStages.clear();
    job.dirModes.clear();
    job.dirMtimes.clear();
  }
}

Napi::Value StringsValue(Napi::Env env, const std::vector<std::string>& strings) {
  Napi::Array array = Napi::Array::New(env, strings.size());
  for (size_t i = 0; i < strings.size(); i++) array.Set(i, NameValue(env, strings[i].data(), strings[i].size()));
  return array;
}

template <typename T, typename Array>
Array Typed(Napi::Env env, const std::vector<T>& values) {
  Array array = Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); i++) array[i] = values[i];
  return array;
}

// Subdirectories for jobs of their own: { names, modes: Uint32Array, mtimeNs: BigInt64Array }.
Napi::Object DirsValue(Napi::Env env, const std::vector<std::string>& names, const std::vector<uint32_t>& modes,
                       const std::vector<int64_t>& mtimes) {
  Napi::Object dirs = Napi::Object::New(env);
  dirs.Set("names", StringsValue(env, names));
  dirs.Set("modes", Typed<uint32_t, Napi::Uint32Array>(env, modes));
  auto mtimeNs = Napi::TypedArrayOf<int64_t>::New(env, mtimes.size(), napi_bigint64_array);
  for (size_t i = 0; i < mtimes.size(); i++) mtimeNs[i] = mtimes[i];
  dirs.Set("mtimeNs", mtimeNs);
  return dirs;
}

// -> { placeErrno, listErrno, entries, files, links, others, bytes,
//      handled, handledBytes, sizes: Float64Array,
//      dirs (DirsValue), problems: { names, kinds, status, errno, stage (Int32Arrays) }, fatal }
//      and for a sync job also { dstListErrno, skipped, updated, both (DirsValue), residual,
//      extra: { names, kinds: Uint8Array }, temps } (fsops/native.ts, NativeDirResult).
Napi::Object DirJobResult(Napi::Env env, const DirJob& job) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("placeErrno", Napi::Number::New(env, job.placeErr));
  result.Set("listErrno", Napi::Number::New(env, job.listErr));
  result.Set("entries", Napi::Number::New(env, job.entries));
  result.Set("files", Napi::Number::New(env, job.files));
  result.Set("links", Napi::Number::New(env, job.links));
  result.Set("others", Napi::Number::New(env, job.others));
  result.Set("bytes", Napi::Number::New(env, job.bytes));
  result.Set("handled", Napi::Number::New(env, job.handled));
  result.Set("handledBytes", Napi::Number::New(env, job.handledBytes));
  result.Set("listedEntries", Napi::Number::New(env, static_cast<double>(job.listedEntries)));
  result.Set("listedBytes", Napi::Number::New(env, job.listedBytes));
  result.Set("listDelta", Napi::Number::New(env, static_cast<double>(job.listDelta)));
  result.Set("sizes", Typed<double, Napi::Float64Array>(env, job.sizes));
  Napi::Object dirs = DirsValue(env, job.dirNames, job.dirModes, job.dirMtimes);
  dirs.Set("stages", StringsValue(env, job.dirStages));
  result.Set("dirs", dirs);
  Napi::Object problems = Napi::Object::New(env);
  problems.Set("names", StringsValue(env, job.problemNames));
  problems.Set("kinds", Typed<int32_t, Napi::Int32Array>(env, job.problemKinds));
  problems.Set("status", Typed<int32_t, Napi::Int32Array>(env, job.problemStatus));
  problems.Set("errno", Typed<int32_t, Napi::Int32Array>(env, job.problemErr));
  problems.Set("stage", Typed<int32_t, Napi::Int32Array>(env, job.problemStage));
  result.Set("problems", problems);
  result.Set("fatal", Napi::Boolean::New(env, job.fatal));
  if (!job.sync) return result;
  result.Set("dstListErrno", Napi::Number::New(env, job.dstListErr));
  result.Set("skipped", Napi::Number::New(env, job.skipped));
  result.Set("updated", Napi::Number::New(env, job.updated));
  result.Set("both", DirsValue(env, job.bothNames, job.bothModes, job.bothMtimes));
  result.Set("residual", StringsValue(env, job.residual));
  Napi::Object extra = Napi::Object::New(env);
  extra.Set("names", StringsValue(env, job.extraNames));
  extra.Set("kinds", Typed<uint8_t, Napi::Uint8Array>(env, job.extraKinds));
  result.Set("extra", extra);
  result.Set("temps", StringsValue(env, job.temps));
  return result;
}

Napi::Object BatchResult(Napi::Env env, const CopyBatch& batch) {
  size_t n = batch.status.size();
  auto status = Napi::Int32Array::New(env, n);
  auto errs = Napi::Int32Array::New(env, n);
  auto stages = Napi::Int32Array::New(env, n);
  auto bytes = Napi::Float64Array::New(env, n);
  for (size_t i = 0; i < n; i++) {
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
  result.Set("done", Napi::Number::New(env, batch.done));
  return result;
}

int32_t* OptionalInt32s(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || !info[index].IsTypedArray()) return nullptr;
  auto array = info[index].As<Napi::Int32Array>();
  return array.ElementLength() > 0 ? array.Data() : nullptr;
}

// The board's CANCELLED Int32 when `index` is the board's header (at least 4 Int32s), else none.
int32_t* CancelFlag(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || !info[index].IsTypedArray()) return nullptr;
  auto array = info[index].As<Napi::Int32Array>();
  return array.ElementLength() > 3 ? array.Data() + 3 : nullptr;
}

// Element `element` of the BigInt64Array argument `index`, if there is one.
int64_t* OptionalInt64s(const Napi::CallbackInfo& info, size_t index, size_t element = 0) {
  if (info.Length() <= index || !info[index].IsTypedArray()) return nullptr;
  auto array = info[index].As<Napi::TypedArrayOf<int64_t>>();
  return array.ElementLength() > element ? array.Data() + element : nullptr;
}

// Writes `text` into slot `slot` of the activity board's slots (2-byte length + UTF-8, cut to fit).
void SetSlot(uint8_t* slots, size_t slotsLength, size_t slot, const std::string& text) {
  if (!slots || (slot + 1) * kSlotBytes > slotsLength) return;
  uint8_t* base = slots + slot * kSlotBytes;
  size_t n = std::min(text.size(), kSlotBytes - 2);
  memcpy(base + 2, text.data(), n);
  base[0] = static_cast<uint8_t>(n & 0xff);
  base[1] = static_cast<uint8_t>(n >> 8);
}

// copyFiles(batch, beat?: Int32Array, written?: BigInt64Array, slots?: Uint8Array, slot?: number)
//   -> { status: Int32Array, errno: Int32Array, stage: Int32Array, bytes: Float64Array, done: number }
// Synchronous, on the calling thread (tiny jobs), which shows its file in the board's slot `slot`.
Napi::Value CopyFiles(const Napi::CallbackInfo& info) {
  CopyBatch batch = ParseBatch(info[0]);
  t_beat = OptionalInt32s(info, 1);
  t_cancel = CancelFlag(info, 1);
  t_written = OptionalInt64s(info, 2);
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

// ---- copy pool --------------------------------------------------------------------------------
// Copy batches on plain native threads: no V8 isolate to start per thread (a worker thread costs
// ~60 ms of CPU to boot), no structured clone of jobs and outcomes, and not libuv's shared pool.
// Each thread says on the activity board (slot 1 + its index) which batch it runs. Like the
// watchdog, the threads may outlive the JS environment (a hung copy): the pool is never freed, and a
// cleanup hook marks the environment gone so no thread calls into it afterwards.

struct CopyPool {
  std::mutex lock;
  std::condition_variable changed;
  std::deque<std::unique_ptr<CopyBatch>> queue;
  bool stopping = false;
  bool gone = false;
  int inFlight = 0;  // main thread only
  Napi::ThreadSafeFunction tsfn;
  int32_t* beat = nullptr;
  int32_t* cancel = nullptr;
  int64_t* written = nullptr;
  int64_t* dirEntries = nullptr;
  int64_t* listed = nullptr;  // three: see t_listed
  uint8_t* slots = nullptr;
  size_t slotsLength = 0;
};


void CopyPoolThread(CopyPool* pool, size_t slot) {
  t_beat = pool->beat;
  t_cancel = pool->cancel;
  t_written = pool->written;
  t_dir_entries = pool->dirEntries;
  t_listed = pool->listed;
  std::unique_lock<std::mutex> lock(pool->lock);
  for (;;) {
    pool->changed.wait(lock, [&] { return !pool->queue.empty() || pool->stopping; });
    if (pool->queue.empty()) return;
    std::unique_ptr<CopyBatch> batch = std::move(pool->queue.front());
    pool->queue.pop_front();
    lock.unlock();
    auto show = [pool, slot](const std::string& text) { SetSlot(pool->slots, pool->slotsLength, slot, text); };
    show(batch->label);
    if (batch->dirJob) RunWholeDir(*batch->dirJob, batch->delayMs, show);
    else RunBatch(*batch, show);
    show("");
    Beat();
    lock.lock();
    if (pool->gone) return;
    CopyBatch* finished = batch.release();
    napi_status status = pool->tsfn.NonBlockingCall(finished, [pool](Napi::Env env, Napi::Function onDone, CopyBatch* b) {
      std::unique_ptr<CopyBatch> owned(b);
      // Abandoned (closeCopyPool with abandon): already unreferenced, nobody waits for the answer.
      if (pool->inFlight == 0) return;
      if (--pool->inFlight == 0) pool->tsfn.Unref(env);
      // A JS exception here surfaces as an uncaught exception (never silently lost); the one thrown
      // by process.exit while terminating is swallowed (NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS).
      onDone.Call({Napi::Number::New(env, owned->id),
                   owned->dirJob ? DirJobResult(env, *owned->dirJob) : BatchResult(env, *owned)});
    });
    if (status != napi_ok) delete finished;
  }
}

std::vector<CopyPool*>& CopyPools() {
  static auto* pools = new std::vector<CopyPool*>();
  return *pools;
}

// startCopyPool(threads, beat?: Int32Array, written?: BigInt64Array (bytes, directory entries, then t_listed's three),
//               slots?: Uint8Array,
//               onDone(id, result)) -> pool number
Napi::Value StartCopyPool(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int threads = std::max(1, std::min(32, info[0].As<Napi::Number>().Int32Value()));
  auto* pool = new CopyPool();
  pool->beat = OptionalInt32s(info, 1);
  pool->cancel = CancelFlag(info, 1);
  pool->written = OptionalInt64s(info, 2);
  pool->dirEntries = OptionalInt64s(info, 2, 1);
  pool->listed = OptionalInt64s(info, 2, 4) ? OptionalInt64s(info, 2, 2) : nullptr;
  if (info[3].IsTypedArray()) {
    auto slots = info[3].As<Napi::Uint8Array>();
    pool->slots = slots.Data();
    pool->slotsLength = slots.ByteLength();
    // The board lives as long as the process: keep it from being collected under the threads.
    new Napi::ObjectReference(Napi::Persistent(slots.As<Napi::Object>()));
  }
  for (size_t i = 1; i <= 2; i++) {
    if (info[i].IsTypedArray()) new Napi::ObjectReference(Napi::Persistent(info[i].As<Napi::Object>()));
  }
  pool->tsfn = Napi::ThreadSafeFunction::New(env, info[4].As<Napi::Function>(), "blit-copy-pool", 0, 1);
  pool->tsfn.Unref(env);
  napi_add_env_cleanup_hook(
      env,
      [](void* data) {
        auto* p = static_cast<CopyPool*>(data);
        std::lock_guard<std::mutex> guard(p->lock);
        p->gone = true;
        p->stopping = true;
        p->changed.notify_all();
      },
      pool);
  for (int i = 0; i < threads; i++) std::thread(CopyPoolThread, pool, static_cast<size_t>(i + 1)).detach();
  CopyPools().push_back(pool);
  return Napi::Number::New(env, static_cast<double>(CopyPools().size() - 1));
}

CopyPool* PoolArg(const Napi::Value& value) {
  size_t index = static_cast<size_t>(value.As<Napi::Number>().Int64Value());
  if (index >= CopyPools().size()) throw Napi::Error::New(value.Env(), "no such copy pool");
  return CopyPools()[index];
}

// Refuses work for a pool that closeCopyPool ended.
void ThrowIfClosed(Napi::Env env, CopyPool* pool) {
  std::lock_guard<std::mutex> guard(pool->lock);
  if (pool->stopping) throw Napi::Error::New(env, "copy pool already closed");
}

// Queues a batch or directory job; its answer keeps the process alive until it is delivered.
void Enqueue(Napi::Env env, CopyPool* pool, std::unique_ptr<CopyBatch> batch) {
  if (pool->inFlight++ == 0) pool->tsfn.Ref(env);
  std::lock_guard<std::mutex> guard(pool->lock);
  pool->queue.push_back(std::move(batch));
  pool->changed.notify_one();
}

// submitCopies(pool, id, batch, label, delayMs, hangIndex)
Napi::Value SubmitCopies(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CopyPool* pool = PoolArg(info[0]);
  ThrowIfClosed(env, pool);
  auto batch = std::make_unique<CopyBatch>(ParseBatch(info[2]));
  batch->id = info[1].As<Napi::Number>().Uint32Value();
  batch->label = info[3].As<Napi::String>().Utf8Value();
  batch->delayMs = info[4].As<Napi::Number>().Int32Value();
  batch->hangIndex = info[5].As<Napi::Number>().Int32Value();
  Enqueue(env, pool, std::move(batch));
  return env.Undefined();
}

// submitCopyDir(pool, id, src, dst, stage, rel, umask, delayMs, hangName, scanHang[, compare, mirror[, excludes]]):
// a fresh-directory job (stage: the temp path it was made under), or with compare a directory on
// both sides (stage empty; see RunWholeDir); its answer comes to the pool's onDone like a batch's.
Napi::Value SubmitCopyDir(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CopyPool* pool = PoolArg(info[0]);
  ThrowIfClosed(env, pool);
  auto batch = std::make_unique<CopyBatch>();
  batch->id = info[1].As<Napi::Number>().Uint32Value();
  batch->dirJob = std::make_unique<DirJob>();
  DirJob& job = *batch->dirJob;
  job.src = PathArg(info[2]);
  job.dst = PathArg(info[3]);
  job.stage = PathArg(info[4]);
  job.rel = info[5].As<Napi::String>().Utf8Value();
  job.umask = info[6].As<Napi::Number>().Uint32Value();
  batch->delayMs = info[7].As<Napi::Number>().Int32Value();
  job.hangName = info[8].As<Napi::String>().Utf8Value();
  job.scanHang = info[9].ToBoolean();
  // syncDir: both sides exist; compare mode (kCompare*) and whether this is a mirror.
  if (info.Length() > 10 && info[10].IsNumber()) {
    job.sync = true;
    job.compare = info[10].As<Napi::Number>().Int32Value();
    job.mirror = info[11].ToBoolean();
  }
  if (info.Length() > 12 && info[12].IsArray()) {
    Napi::Array excludes = info[12].As<Napi::Array>();
    for (uint32_t i = 0; i < excludes.Length(); i++) job.excludes.push_back(ParseNamePattern(PathArg(excludes.Get(i))));
  }
  batch->label = "scan: listing " + (job.rel.empty() ? std::string(".") : job.rel);
  Enqueue(env, pool, std::move(batch));
  return env.Undefined();
}

// closeCopyPool(pool, abandon) -> ids of the dropped batches: batches not yet started are dropped; the threads end after the batch
// they run (a hung one never does; it is left). With abandon (after a stall) the batches still
// running no longer keep the process alive, and their answers are never delivered.
Napi::Value CloseCopyPool(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CopyPool* pool = PoolArg(info[0]);
  bool abandon = info.Length() > 1 && info[1].ToBoolean();
  std::vector<uint32_t> droppedIds;
  {
    std::lock_guard<std::mutex> guard(pool->lock);
    for (const auto& batch : pool->queue) droppedIds.push_back(batch->id);
    pool->queue.clear();
    pool->stopping = true;
    pool->changed.notify_all();
  }
  size_t dropped = droppedIds.size();
  Napi::Array ids = Napi::Array::New(env, dropped);
  for (size_t i = 0; i < dropped; i++) ids.Set(i, Napi::Number::New(env, droppedIds[i]));
  if (pool->inFlight == 0) return ids;
  int left = abandon ? 0 : pool->inFlight - static_cast<int>(std::min<size_t>(dropped, static_cast<size_t>(pool->inFlight)));
  pool->inFlight = left;
  if (left == 0) pool->tsfn.Unref(env);
  return ids;
}

Napi::Value ErrnoName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), ErrnoCode(info[0].As<Napi::Number>().Int32Value()));
}

// ---- stall watchdog ----------------------------------------------------------------------------
// The same job as engine/stall-watchdog.ts, on a plain native thread: a worker thread costs ~60 ms of
// CPU to start (its own V8 isolate), a std::thread nothing. It reads the shared activity board
// (header: beats, stopped, paused; then 32 slots of 512 bytes: 2-byte length + UTF-8 text).

std::string StallMessage(const uint8_t* slots, size_t length, int timeoutMs) {
  std::string doing;
  for (size_t slot = 0; slot < kSlots && (slot + 1) * kSlotBytes <= length; slot++) {
    const uint8_t* base = slots + slot * kSlotBytes;
    size_t n = static_cast<size_t>(base[0]) | (static_cast<size_t>(base[1]) << 8);
    if (n == 0 || n > kSlotBytes - 2) continue;
    if (!doing.empty()) doing += "; ";
    doing.append(reinterpret_cast<const char*>(base + 2), n);
  }
  long tenths = (timeoutMs + 50) / 100;
  char seconds[32];
  if (tenths % 10 == 0) snprintf(seconds, sizeof(seconds), "%ld", tenths / 10);
  else snprintf(seconds, sizeof(seconds), "%ld.%ld", tenths / 10, tenths % 10);
  return std::string("stalled: no progress for ") + seconds + " s; " +
         (doing.empty() ? std::string("nothing in flight") : "in flight: " + doing);
}

// The watchdog thread outlives the JS environment when the process ends normally: the environment's
// teardown frees the thread-safe function, so the thread must not touch it afterwards. A cleanup hook
// (registered after the function, so it runs before the function's own) marks the environment gone.
struct WatchdogLink {
  std::mutex lock;
  bool gone = false;
};

// startWatchdog(header: Int32Array, slots: Uint8Array, timeoutMs, graceMs, onStall(message))
// Both arrays view one SharedArrayBuffer that lives as long as the process (references kept).
Napi::Value StartWatchdog(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto header = info[0].As<Napi::Int32Array>();
  auto slots = info[1].As<Napi::Uint8Array>();
  int timeoutMs = info[2].As<Napi::Number>().Int32Value();
  int graceMs = info[3].As<Napi::Number>().Int32Value();
  auto tsfn = Napi::ThreadSafeFunction::New(env, info[4].As<Napi::Function>(), "blit-stall-watchdog", 0, 1);
  tsfn.Unref(env);
  // Shared with the thread and the hook for the life of the process (one per transfer: never freed).
  auto* link = new WatchdogLink();
  napi_add_env_cleanup_hook(
      env,
      [](void* data) {
        auto* l = static_cast<WatchdogLink*>(data);
        std::lock_guard<std::mutex> guard(l->lock);
        l->gone = true;
      },
      link);
  new Napi::ObjectReference(Napi::Persistent(header.As<Napi::Object>()));
  new Napi::ObjectReference(Napi::Persistent(slots.As<Napi::Object>()));
  int32_t* ints = header.Data();
  const uint8_t* bytes = slots.Data();
  size_t length = slots.ByteLength();
  std::thread([=]() mutable {
    using Clock = std::chrono::steady_clock;
    // The board is JS memory: read it only under the link's lock while the environment is alive
    // (after teardown the SharedArrayBuffer may be gone).
    auto stopped = [&] { return __atomic_load_n(ints + kStopped, __ATOMIC_SEQ_CST) != 0; };
    auto alive = [&] {
      std::lock_guard<std::mutex> guard(link->lock);
      return !link->gone && !stopped();
    };
    int tick = std::max(10, std::min(250, timeoutMs / 4));
    int32_t lastBeats = __atomic_load_n(ints + kBeats, __ATOMIC_SEQ_CST);
    auto lastChange = Clock::now();
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(tick));
      std::string message;
      {
        std::lock_guard<std::mutex> guard(link->lock);
        if (link->gone || stopped()) break;
        int32_t beats = __atomic_load_n(ints + kBeats, __ATOMIC_SEQ_CST);
        if (beats != lastBeats || __atomic_load_n(ints + kPaused, __ATOMIC_SEQ_CST) != 0) {
          lastBeats = beats;
          lastChange = Clock::now();
          continue;
        }
        if (Clock::now() - lastChange < std::chrono::milliseconds(timeoutMs)) continue;
        message = StallMessage(bytes, length, timeoutMs);
        auto* copy = new std::string(message);
        // The queue is unbounded: this never blocks (so holding the lock is safe).
        napi_status status = tsfn.NonBlockingCall(copy, [](Napi::Env env, Napi::Function onStall, std::string* text) {
          std::unique_ptr<std::string> owned(text);
          // onStall may end the process itself: the termination process.exit throws through Call is
          // swallowed (NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS).
          onStall.Call({Napi::String::New(env, *owned)});
        });
        if (status != napi_ok) delete copy;
      }
      bool answered = false;
      for (int waited = 0; waited < graceMs; waited += tick) {
        std::this_thread::sleep_for(std::chrono::milliseconds(tick));
        if (!alive()) {
          answered = true;
          break;
        }
      }
      if (answered) break;
      // The main thread is stuck in a system call: end the process from here.
      std::string line = "blit: " + message + "\n";
      ssize_t ignored = write(2, line.data(), line.size());
      (void)ignored;
      _exit(1);
    }
    std::lock_guard<std::mutex> guard(link->lock);
    if (!link->gone) tsfn.Release();
  }).detach();
  return env.Undefined();
}

// exitProcess(code): ends the whole process at once, from any thread (the stall watchdog uses it
// when the main thread is stuck in a system call and cannot exit by itself; the CLI after a
// transfer, to skip the runtime's teardown).
Napi::Value ExitProcess(const Napi::CallbackInfo& info) {
  _exit(info[0].As<Napi::Number>().Int32Value());
}

// poolsIdle() -> whether no copy pool owes an answer (a batch still running may have a temp file to
// remove before the process may end). Main thread only, like every pool's inFlight.
Napi::Value PoolsIdle(const Napi::CallbackInfo& info) {
  for (CopyPool* pool : CopyPools()) {
    if (pool->inFlight != 0) return Napi::Boolean::New(info.Env(), false);
  }
  return Napi::Boolean::New(info.Env(), true);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("exitProcess", Napi::Function::New(env, ExitProcess));
  exports.Set("poolsIdle", Napi::Function::New(env, PoolsIdle));
  exports.Set("startWatchdog", Napi::Function::New(env, StartWatchdog));
  exports.Set("listDir", Napi::Function::New(env, ListDir));
  // setListingHang(path): tests only (BLIT_TEST_HANG=scan:REL on the walk): listing path hangs.
  exports.Set("setListingHang", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    std::lock_guard<std::mutex> guard(g_listingHangLock);
    g_listingHang = PathArg(info[0]);
    g_listingHangSet.store(true, std::memory_order_release);
    return info.Env().Undefined();
  }));
  exports.Set("readAhead", Napi::Function::New(env, ReadAhead));
  exports.Set("dropReadAhead", Napi::Function::New(env, DropReadAhead));
  exports.Set("setTimes", Napi::Function::New(env, SetTimes));
  exports.Set("copyFiles", Napi::Function::New(env, CopyFiles));
  exports.Set("submitCopyDir", Napi::Function::New(env, SubmitCopyDir));
  exports.Set("startCopyPool", Napi::Function::New(env, StartCopyPool));
  exports.Set("submitCopies", Napi::Function::New(env, SubmitCopies));
  exports.Set("closeCopyPool", Napi::Function::New(env, CloseCopyPool));
  exports.Set("errnoName", Napi::Function::New(env, ErrnoName));
  blit_beneath::Register(env, exports);
  exports.Set("abiVersion", Napi::Number::New(env, 21));
  return exports;
}

}  // namespace

NODE_API_MODULE(blit_native, Init)
