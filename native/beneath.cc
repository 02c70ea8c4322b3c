// Containment: file access beneath a root through directory descriptors, never by re-opening a
// path string after checking it (a local writer could swap a checked directory for a symbolic link
// to the outside in between).
//
// - open: resolves a relative path beneath a directory descriptor. openat2(RESOLVE_BENEATH |
//   RESOLVE_NO_MAGICLINKS) where the kernel has it (Linux 5.6+): one system call, and the kernel
//   refuses every escape with EXDEV. When it fails, or is missing, a walk one component at a time:
//   every open is O_NOFOLLOW, symbolic links are expanded here, on a stack of descriptors, so '..'
//   never climbs above the root. The walk also names the component that failed (openat2 cannot),
//   and follows an absolute link whose target lies under the root's own path (openat2 refuses any
//   absolute link).
// - readNames / lstatAt: a directory's names, then the lstat fields of some of them (a page).
// - removeStart / removeStep / removeClose: removes a tree in steps the caller bounds, descending
//   with openat(O_NOFOLLOW | O_DIRECTORY) and unlinking relative to the parent's descriptor, so a
//   link swapped in for a directory is removed as a link, never followed. Parents are held open,
//   never reached again through '..' (a directory moved out meanwhile would lead outside).
// - mkdirAt, unlinkAt, renameAt, symlinkAt, fchmod, futimens: thin wrappers for writes relative
//   to a directory descriptor obtained beneath the root.
//
// Failures are positive errno numbers; the JavaScript side names them with errnoName.

#include "beneath.h"

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "common.h"
#include "open_how.h"
#include "xattr.h"

namespace blit_beneath {
namespace {

using blit::IsName;

// How `open` opens what it resolves (exported as beneath.how; the JavaScript side reads them there).
enum How : int {
  kFollow = 1,     // a symbolic link in last place is followed (while it stays beneath)
  kDirectory = 2,  // the result must be a directory, opened for reading its entries
  kCreate = 4,     // a new regular file for writing (O_CREAT | O_EXCL), never through a link
  kRead = 8,       // a file for reading (O_NONBLOCK: a FIFO never blocks the open)
  kWalk = 16,      // skip openat2 (tests, and the path a kernel without it takes)
  kName = 32,      // the path must be a single name (see IsName): EINVAL otherwise
};
// Without kDirectory, kCreate or kRead: a handle that only names the entry (O_PATH).

constexpr int kMaxLinks = 40;  // as the kernel's own limit (ELOOP)

std::atomic<bool> g_noOpenat2{false};

std::string Bytes(const Napi::Value& value) {
  if (value.IsBuffer()) {
    auto buffer = value.As<Napi::Buffer<char>>();
    return std::string(buffer.Data(), buffer.Length());
  }
  return value.As<Napi::String>().Utf8Value();
}

Napi::Value BytesValue(Napi::Env env, const std::string& bytes) {
  return Napi::Buffer<char>::Copy(env, bytes.data(), bytes.size());
}

int Int(const Napi::Value& value) {
  return value.As<Napi::Number>().Int32Value();
}

Napi::Number Errno(Napi::Env env, int result) {
  return Napi::Number::New(env, result == 0 ? 0 : errno);
}

int OpenFlags(int how) {
  int flags = O_CLOEXEC;
  if (how & kCreate) {
    flags |= O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW;
  } else if (how & kDirectory) {
    flags |= O_RDONLY | O_DIRECTORY;
  } else if (how & kRead) {
    flags |= O_RDONLY | O_NONBLOCK;
  } else {
#ifdef O_PATH
    flags |= O_PATH;
#else
    flags |= O_RDONLY | O_NONBLOCK;
#endif
  }
  if (!(how & kFollow)) flags |= O_NOFOLLOW;
  return flags;
}

// A directory on the walk's way: only searched, never read.
int IntermediateFlags() {
#ifdef O_PATH
  return O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
#else
  return O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
#endif
}

struct Resolved {
  int fd = -1;
  int err = 0;
  // Which component of the relative path failed (a link's own target counts as the link).
  int depth = 0;
};

struct Part {
  std::string name;
  int depth;
};

// Puts the components of `path` in front of `pending`, in order; empty and '.' components vanish.
void PushFront(std::deque<Part>& pending, const std::string& path, int depth) {
  std::vector<std::string> names;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string name = path.substr(start, end - start);
    if (!name.empty() && name != ".") names.push_back(name);
    start = end + 1;
  }
  for (auto it = names.rbegin(); it != names.rend(); ++it) pending.push_front({*it, depth});
}

// The target of the link `name` in `dirFd`; false with errno set (EINVAL: not a link).
bool ReadLink(int dirFd, const std::string& name, std::string& target) {
  std::vector<char> buffer(256);
  for (;;) {
    ssize_t n = readlinkat(dirFd, name.c_str(), buffer.data(), buffer.size());
    if (n < 0) return false;
    if (static_cast<size_t>(n) < buffer.size()) {
      target.assign(buffer.data(), static_cast<size_t>(n));
      return true;
    }
    if (buffer.size() >= 65536) {
      errno = ENAMETOOLONG;
      return false;
    }
    buffer.resize(buffer.size() * 4);
  }
}

// The walk: every open is O_NOFOLLOW; `stack` holds the descriptors opened below the root, so '..'
// goes back to one of them and never above the root.
Resolved Walk(int rootFd, const std::string& rootPath, const std::string& rel, int how, int mode) {
  std::vector<int> stack;
  auto current = [&]() { return stack.empty() ? rootFd : stack.back(); };
  auto fail = [&](int err, int depth) {
    for (int fd : stack) close(fd);
    Resolved r;
    r.err = err;
    r.depth = depth;
    return r;
  };
  if (!rel.empty() && rel[0] == '/') return fail(EXDEV, 0);  // as openat2 says: absolute is not beneath
  std::deque<Part> pending;
  {
    int depth = 0;
    size_t start = 0;
    while (start < rel.size()) {
      size_t end = rel.find('/', start);
      if (end == std::string::npos) end = rel.size();
      pending.push_back({rel.substr(start, end - start), depth++});
      start = end + 1;
    }
  }
  int links = 0;
  // Puts a link's target in place of the link; false (with the failure) when it cannot be followed.
  auto expand = [&](const std::string& target, int depth, Resolved& failure) {
    if (++links > kMaxLinks) {
      failure = fail(ELOOP, depth);
      return false;
    }
    if (target.empty()) {
      failure = fail(ENOENT, depth);
      return false;
    }
    std::string rest = target;
    if (target[0] == '/') {
      // Only a target under the root's own path is inside; it goes on from the root descriptor.
      bool under = !rootPath.empty() &&
                   (rootPath == "/" || target == rootPath ||
                    (target.compare(0, rootPath.size(), rootPath) == 0 && target[rootPath.size()] == '/'));
      if (!under) {
        failure = fail(EXDEV, depth);
        return false;
      }
      rest = rootPath == "/" ? target : target.substr(rootPath.size());
      for (int fd : stack) close(fd);
      stack.clear();
    }
    PushFront(pending, rest, depth);
    return true;
  };

  while (!pending.empty()) {
    Part part = pending.front();
    pending.pop_front();
    if (part.name.empty() || part.name == ".") continue;
    if (part.name == "..") {
      if (stack.empty()) return fail(EXDEV, part.depth);
      close(stack.back());
      stack.pop_back();
      continue;
    }
    bool last = pending.empty();
    int flags = last ? OpenFlags(how) | O_NOFOLLOW : IntermediateFlags();
    int fd = openat(current(), part.name.c_str(), flags, mode);
    std::string target;
    Resolved failure;
    if (fd >= 0) {
      if (!last) {
        stack.push_back(fd);
        continue;
      }
      struct stat st;
      if (!(how & kFollow) || fstat(fd, &st) != 0 || !S_ISLNK(st.st_mode)) {
        // The result is owned by the caller; the descriptors on the way are not needed any more.
        for (int open : stack) close(open);
        Resolved r;
        r.fd = fd;
        return r;
      }
      close(fd);  // an O_PATH handle of a link that is to be followed
      if (!ReadLink(current(), part.name, target)) return fail(errno == EINVAL ? ELOOP : errno, part.depth);
      if (!expand(target, part.depth, failure)) return failure;
      continue;
    }
    int err = errno;
    // O_NOFOLLOW met a link (ELOOP; ENOTDIR where O_DIRECTORY is checked first; EMLINK on BSDs).
    bool maybeLink = err == ELOOP || err == ENOTDIR || err == EMLINK;
    if (!maybeLink || (last && (!(how & kFollow) || (how & kCreate)))) return fail(err, part.depth);
    if (!ReadLink(current(), part.name, target)) return fail(errno == EINVAL ? err : errno, part.depth);
    if (!expand(target, part.depth, failure)) return failure;
  }
  // Everything resolved to a directory already open ('' or a path ending in '..').
  int fd = openat(current(), ".", OpenFlags(how) & ~O_NOFOLLOW, mode);
  int err = errno;
  for (int open : stack) close(open);
  Resolved r;
  if (fd < 0) r.err = err;
  r.fd = fd;
  return r;
}

Resolved Open(int rootFd, const std::string& rootPath, const std::string& rel, int how, int mode) {
  if (rel.find('\0') != std::string::npos || ((how & kName) && !IsName(rel))) {
    Resolved r;
    r.err = EINVAL;
    return r;
  }
#if defined(__linux__)
  if (!(how & kWalk) && !g_noOpenat2.load(std::memory_order_relaxed)) {
    struct open_how oh;
    std::memset(&oh, 0, sizeof oh);
    oh.flags = static_cast<uint64_t>(OpenFlags(how));
    oh.mode = (how & kCreate) ? static_cast<uint64_t>(mode) : 0;
    oh.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd = syscall(SYS_openat2, rootFd, rel.empty() ? "." : rel.c_str(), &oh, sizeof oh);
    if (fd >= 0) {
      Resolved r;
      r.fd = static_cast<int>(fd);
      return r;
    }
    // ENOSYS: an older kernel (EPERM: a seccomp filter that does not know it). Any other failure
    // goes through the walk too: it names the failing component, and follows an absolute link that
    // stays under the root.
    if (errno == ENOSYS || errno == EPERM) g_noOpenat2.store(true, std::memory_order_relaxed);
  }
#endif
  return Walk(rootFd, rootPath, rel, how, mode);
}

}  // namespace

int OpenForReadBeneath(int rootFd, const std::string& rootPath, const std::string& rel, bool walk) {
  Resolved r = Open(rootFd, rootPath, rel, walk ? (kRead | kWalk) : kRead, 0);
  return r.fd >= 0 ? r.fd : -(r.err != 0 ? r.err : EIO);
}

namespace {

// open(dirFd, rootPath, rel, how, mode) -> a descriptor, or { errno, depth }. `rootPath`: the real
// path of dirFd, for absolute links ('' refuses them all).
Napi::Value OpenBeneath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Resolved r = Open(Int(info[0]), Bytes(info[1]), Bytes(info[2]), Int(info[3]), Int(info[4]));
  if (r.fd >= 0) return Napi::Number::New(env, r.fd);
  Napi::Object failure = Napi::Object::New(env);
  failure.Set("errno", Napi::Number::New(env, r.err));
  failure.Set("depth", Napi::Number::New(env, r.depth));
  return failure;
}

// A fresh directory stream on `dirFd` (its own descriptor: reading never moves the caller's offset).
DIR* OpenStream(int dirFd) {
  int fd = openat(dirFd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  DIR* dir = fdopendir(fd);
  if (!dir) {
    int err = errno;
    close(fd);
    errno = err;
  }
  return dir;
}

bool IsDots(const char* name) {
  return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

// readNames(dirFd) -> the names in a directory (Buffers, in directory order), or an errno.
Napi::Value ReadNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DIR* dir = OpenStream(Int(info[0]));
  if (!dir) return Napi::Number::New(env, errno);
  std::vector<std::string> names;
  int err = 0;
  for (;;) {
    errno = 0;
    struct dirent* entry = readdir(dir);
    if (!entry) {
      err = errno;
      break;
    }
    if (!IsDots(entry->d_name)) names.emplace_back(entry->d_name);
  }
  closedir(dir);
  if (err != 0) return Napi::Number::New(env, err);
  Napi::Array result = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); i++) result.Set(i, BytesValue(env, names[i]));
  return result;
}

// lstatAt(dirFd, names, withXattrs?) -> per name: st_mode (type bits included), size, mtime in
// nanoseconds, a link's target, the link count, device and inode (hard links), the bytes on disk
// (st_blocks * 512: below the size, holes), and an errno (0, or why that entry could not be
// described); withXattrs: also xattrsRead (Uint8Array) and xattrs ([[name, Buffer], ...] where an
// entry has any), read through dirFd (ReadXattrsAt), never by a path.
Napi::Value LstatAt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int dirFd = Int(info[0]);
  Napi::Array names = info[1].As<Napi::Array>();
  uint32_t n = names.Length();
  auto modes = Napi::Uint32Array::New(env, n);
  auto sizes = Napi::Float64Array::New(env, n);
  auto mtimes = Napi::TypedArrayOf<int64_t>::New(env, n, napi_bigint64_array);
  auto errnos = Napi::Int32Array::New(env, n);
  auto uids = Napi::Uint32Array::New(env, n);
  auto gids = Napi::Uint32Array::New(env, n);
  auto rdevs = Napi::TypedArrayOf<uint64_t>::New(env, n, napi_biguint64_array);
  Napi::Array links = Napi::Array::New(env, n);
  auto nlinks = Napi::Uint32Array::New(env, n);
  auto devs = Napi::TypedArrayOf<uint64_t>::New(env, n, napi_biguint64_array);
  auto inos = Napi::TypedArrayOf<uint64_t>::New(env, n, napi_biguint64_array);
  auto allocated = Napi::Float64Array::New(env, n);
  const bool withXattrs = info.Length() > 2 && info[2].ToBoolean();
  auto xattrsRead = Napi::Uint8Array::New(env, withXattrs ? n : 0);
  Napi::Array xattrs = Napi::Array::New(env, withXattrs ? n : 0);
  for (uint32_t i = 0; i < n; i++) {
    std::string name = Bytes(names.Get(i));
    if (!IsName(name)) {
      errnos[i] = EINVAL;
      continue;
    }
    struct stat st;
    if (fstatat(dirFd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      errnos[i] = errno;
      continue;
    }
    modes[i] = st.st_mode;
    uids[i] = st.st_uid;
    gids[i] = st.st_gid;
    sizes[i] = static_cast<double>(st.st_size);
    nlinks[i] = static_cast<uint32_t>(st.st_nlink);
    devs[i] = static_cast<uint64_t>(st.st_dev);
    inos[i] = static_cast<uint64_t>(st.st_ino);
    rdevs[i] = static_cast<uint64_t>(st.st_rdev);
    allocated[i] = static_cast<double>(st.st_blocks) * 512.0;
#if defined(__APPLE__)
    mtimes[i] = static_cast<int64_t>(st.st_mtimespec.tv_sec) * 1000000000 + st.st_mtimespec.tv_nsec;
#else
    mtimes[i] = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
#endif
    errnos[i] = 0;
    if (S_ISLNK(st.st_mode)) {
      std::string target;
      if (ReadLink(dirFd, name, target)) links.Set(i, BytesValue(env, target));
      else errnos[i] = errno;
    }
    if (withXattrs) {
      blit::Xattrs read;
      xattrsRead[i] = blit::ReadXattrsAt(dirFd, name, &read) == 0 ? 1 : 0;
      if (!read.empty()) xattrs.Set(i, blit::XattrsValue(env, read));
    }
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("modes", modes);
  result.Set("sizes", sizes);
  result.Set("mtimeNs", mtimes);
  result.Set("links", links);
  result.Set("nlinks", nlinks);
  result.Set("devs", devs);
  result.Set("inos", inos);
  result.Set("errnos", errnos);
  result.Set("uids", uids);
  result.Set("gids", gids);
  result.Set("rdevs", rdevs);
  result.Set("allocated", allocated);
  if (withXattrs) {
    result.Set("xattrsRead", xattrsRead);
    result.Set("xattrs", xattrs);
  }
  return result;
}

// ---- removal -----------------------------------------------------------------------------------

struct Level {
  DIR* dir = nullptr;  // open until the level is done: its descriptor is the parent of what it holds
  std::string name;    // its name in the level above (or the top's parent)
  std::string rel;     // its path below the top, '' for the top itself
  bool reading = true;
  std::vector<std::string> subdirs;  // removed after the directory is read
  size_t nextSubdir = 0;
  bool kept = false;  // something in it stayed: it stays too (unreported: it could only be "not empty")
};

struct Remover {
  int parentFd = -1;  // the top's parent (a duplicate: the caller may close its own)
  std::string name;
  bool started = false;
  std::vector<Level> stack;
  int64_t removed = 0;
  std::vector<std::string> failedPaths;
  std::vector<int> failedErrnos;

  ~Remover() {
    for (Level& level : stack) closedir(level.dir);
    if (parentFd >= 0) close(parentFd);
  }

  std::string Below(const Level& level, const std::string& name) const {
    return level.rel.empty() ? name : level.rel + "/" + name;
  }

  void Fail(const std::string& rel, int err) {
    failedPaths.push_back(rel);
    failedErrnos.push_back(err);
  }

  int ParentOfTop() const {
    return stack.empty() ? parentFd : dirfd(stack.back().dir);
  }

  // Removes `name` in `dirFd` (a file, a link, anything but a directory); false when it is a
  // directory after all (it was swapped in since it was read as something else).
  bool UnlinkEntry(int dirFd, const std::string& name, const std::string& rel, bool* kept) {
    if (unlinkat(dirFd, name.c_str(), 0) == 0) {
      removed++;
      return true;
    }
    int err = errno;
    if (err == ENOENT) return true;  // gone meanwhile: what the removal wanted
    if (err == EISDIR || err == EPERM) {
      struct stat st;
      if (fstatat(dirFd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) return false;
    }
    Fail(rel, err);
    *kept = true;
    return true;
  }

  // Opens the directory `name` in `dirFd` as a new level; a link or a file found there now is
  // removed as such, never followed.
  void Descend(int dirFd, const std::string& name, const std::string& rel, bool* kept, int tries = 3) {
    int fd = openat(dirFd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == ENOENT) return;
      if ((err == ELOOP || err == ENOTDIR) && tries > 0) {
        // Swapped back and forth between a directory and something else: a few tries, then a failure.
        if (!UnlinkEntry(dirFd, name, rel, kept)) Descend(dirFd, name, rel, kept, tries - 1);
        return;
      }
      Fail(rel, err);
      *kept = true;
      return;
    }
    DIR* dir = fdopendir(fd);
    if (!dir) {
      Fail(rel, errno);
      close(fd);
      *kept = true;
      return;
    }
    Level level;
    level.dir = dir;
    level.name = name;
    level.rel = rel;
    stack.push_back(std::move(level));
  }

  // One unit of work; false when everything is done.
  bool Step() {
    if (!started) {
      started = true;
      struct stat st;
      if (fstatat(parentFd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) Fail("", errno);
        return false;
      }
      bool kept = false;
      if (S_ISDIR(st.st_mode) || !UnlinkEntry(parentFd, name, "", &kept)) Descend(parentFd, name, "", &kept);
      return !stack.empty();
    }
    if (stack.empty()) return false;
    Level& level = stack.back();
    int fd = dirfd(level.dir);
    if (level.reading) {
      struct dirent* entry;
      do {
        errno = 0;
        entry = readdir(level.dir);
      } while (entry && IsDots(entry->d_name));
      if (!entry) {
        if (errno != 0) {
          Fail(level.rel, errno);
          level.kept = true;
        }
        level.reading = false;
        return true;
      }
      std::string child = entry->d_name;
      bool isDir = entry->d_type == DT_DIR;
      if (entry->d_type == DT_UNKNOWN) {
        struct stat st;
        isDir = fstatat(fd, child.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
      }
      // Files go while the directory is read; subdirectories once it has been read.
      if (isDir || !UnlinkEntry(fd, child, Below(level, child), &level.kept)) level.subdirs.push_back(child);
      return true;
    }
    if (level.nextSubdir < level.subdirs.size()) {
      std::string child = level.subdirs[level.nextSubdir++];
      size_t index = stack.size() - 1;
      bool kept = false;
      Descend(fd, child, Below(level, child), &kept);  // may push a level: `level` is stale after it
      if (kept) stack[index].kept = true;
      return true;
    }
    // The level is empty now (unless something stayed): remove it from its parent.
    Level done = std::move(stack.back());
    stack.pop_back();
    closedir(done.dir);
    int parent = ParentOfTop();
    if (done.kept) {
      if (!stack.empty()) stack.back().kept = true;
      return !stack.empty();
    }
    if (unlinkat(parent, done.name.c_str(), AT_REMOVEDIR) == 0) {
      removed++;
    } else if (errno != ENOENT) {
      Fail(done.rel, errno);
      if (!stack.empty()) stack.back().kept = true;
    }
    return !stack.empty();
  }
};

void DeleteRemover(Napi::Env, Remover* remover) {
  delete remover;
}

// removeStart(parentFd, name) -> a handle for removeStep: the removal of `name` in parentFd, with
// everything below it.
Napi::Value RemoveStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = Bytes(info[1]);
  if (!IsName(name)) throw Napi::Error::New(env, "removeStart: not a single name");
  int fd = fcntl(Int(info[0]), F_DUPFD_CLOEXEC, 0);
  if (fd < 0) throw Napi::Error::New(env, std::string("removeStart: dup failed: ") + strerror(errno));
  auto* remover = new Remover();
  remover->parentFd = fd;
  remover->name = name;
  return Napi::External<Remover>::New(env, remover, DeleteRemover);
}

// removeStep(handle, budget) -> { removed, done, failedPaths, failedErrnos }: at most `budget` units
// of work (an entry read, removed or entered); counts and failures are those of this step only
// (paths relative to the top, '' for the top itself).
Napi::Value RemoveStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Remover* remover = info[0].As<Napi::External<Remover>>().Data();
  int budget = Int(info[1]);
  bool more = true;
  for (int i = 0; i < budget && more; i++) more = remover->Step();
  Napi::Object result = Napi::Object::New(env);
  result.Set("removed", Napi::Number::New(env, static_cast<double>(remover->removed)));
  result.Set("done", Napi::Boolean::New(env, !more));
  Napi::Array paths = Napi::Array::New(env, remover->failedPaths.size());
  auto errnos = Napi::Int32Array::New(env, remover->failedErrnos.size());
  for (size_t i = 0; i < remover->failedPaths.size(); i++) {
    paths.Set(i, BytesValue(env, remover->failedPaths[i]));
    errnos[i] = remover->failedErrnos[i];
  }
  result.Set("failedPaths", paths);
  result.Set("failedErrnos", errnos);
  remover->removed = 0;
  remover->failedPaths.clear();
  remover->failedErrnos.clear();
  if (!more) {
    // Release the descriptors now rather than at garbage collection.
    for (Level& level : remover->stack) closedir(level.dir);
    remover->stack.clear();
    if (remover->parentFd >= 0) close(remover->parentFd);
    remover->parentFd = -1;
  }
  return result;
}

// ---- thin writes relative to a directory descriptor ---------------------------------------------

// The thin writes take single names (IsName; EINVAL otherwise).

Napi::Value MkdirAt(const Napi::CallbackInfo& info) {
  std::string name = Bytes(info[1]);
  if (!IsName(name)) return Napi::Number::New(info.Env(), EINVAL);
  return Errno(info.Env(), mkdirat(Int(info[0]), name.c_str(), static_cast<mode_t>(Int(info[2]))));
}

// unlinkAt(dirFd, name, isDirectory): a name, never what it points to.
Napi::Value UnlinkAt(const Napi::CallbackInfo& info) {
  std::string name = Bytes(info[1]);
  if (!IsName(name)) return Napi::Number::New(info.Env(), EINVAL);
  int flags = info[2].ToBoolean() ? AT_REMOVEDIR : 0;
  return Errno(info.Env(), unlinkat(Int(info[0]), name.c_str(), flags));
}

// renameAt(fromFd, from, toFd, to, flags): flags 0, or renameat2's RENAME_NOREPLACE (EEXIST when
// `to` is taken) or RENAME_EXCHANGE (the two names trade places atomically), exported as
// beneath.rename; ENOSYS or EINVAL where the system or the file system cannot do them.
Napi::Value RenameAt(const Napi::CallbackInfo& info) {
  std::string from = Bytes(info[1]);
  std::string to = Bytes(info[3]);
  if (!IsName(from) || !IsName(to)) return Napi::Number::New(info.Env(), EINVAL);
  int fromFd = Int(info[0]);
  int toFd = Int(info[2]);
  unsigned flags = static_cast<unsigned>(Int(info[4]));
  if (flags != 0) {
#if defined(__linux__) && defined(SYS_renameat2)
    return Errno(info.Env(), static_cast<int>(syscall(SYS_renameat2, fromFd, from.c_str(), toFd, to.c_str(), flags)));
#else
    return Napi::Number::New(info.Env(), ENOSYS);
#endif
  }
  return Errno(info.Env(), renameat(fromFd, from.c_str(), toFd, to.c_str()));
}

// symlinkAt(target, dirFd, name): the target is stored as given (data, never resolved here).
Napi::Value SymlinkAt(const Napi::CallbackInfo& info) {
  std::string target = Bytes(info[0]);
  std::string name = Bytes(info[2]);
  if (!IsName(name) || target.empty() || target.find('\0') != std::string::npos) {
    return Napi::Number::New(info.Env(), EINVAL);
  }
  return Errno(info.Env(), symlinkat(target.c_str(), Int(info[1]), name.c_str()));
}

Napi::Value Fchmod(const Napi::CallbackInfo& info) {
  return Errno(info.Env(), fchmod(Int(info[0]), static_cast<mode_t>(Int(info[1]))));
}

// futimens(fd, sec, nsec): atime and mtime to the nanosecond, on an open file or directory.
Napi::Value Futimens(const Napi::CallbackInfo& info) {
  struct timespec times[2];
  times[0].tv_sec = static_cast<time_t>(info[1].As<Napi::Number>().Int64Value());
  times[0].tv_nsec = static_cast<long>(info[2].As<Napi::Number>().Int64Value());
  times[1] = times[0];
  return Errno(info.Env(), futimens(Int(info[0]), times));
}

}  // namespace

void Register(Napi::Env env, Napi::Object exports) {
  Napi::Object beneath = Napi::Object::New(env);
  Napi::Object how = Napi::Object::New(env);
  how.Set("FOLLOW", Napi::Number::New(env, kFollow));
  how.Set("DIRECTORY", Napi::Number::New(env, kDirectory));
  how.Set("CREATE", Napi::Number::New(env, kCreate));
  how.Set("READ", Napi::Number::New(env, kRead));
  how.Set("WALK", Napi::Number::New(env, kWalk));
  how.Set("NAME", Napi::Number::New(env, kName));
  beneath.Set("how", how);
  Napi::Object rename = Napi::Object::New(env);
  rename.Set("NOREPLACE", Napi::Number::New(env, 1));  // RENAME_NOREPLACE, as in <linux/fs.h>
  rename.Set("EXCHANGE", Napi::Number::New(env, 2));   // RENAME_EXCHANGE
  beneath.Set("rename", rename);
  beneath.Set("open", Napi::Function::New(env, OpenBeneath));
  beneath.Set("readNames", Napi::Function::New(env, ReadNames));
  beneath.Set("lstatAt", Napi::Function::New(env, LstatAt));
  beneath.Set("removeStart", Napi::Function::New(env, RemoveStart));
  beneath.Set("removeStep", Napi::Function::New(env, RemoveStep));
  beneath.Set("mkdirAt", Napi::Function::New(env, MkdirAt));
  beneath.Set("unlinkAt", Napi::Function::New(env, UnlinkAt));
  beneath.Set("renameAt", Napi::Function::New(env, RenameAt));
  beneath.Set("symlinkAt", Napi::Function::New(env, SymlinkAt));
  beneath.Set("fchmod", Napi::Function::New(env, Fchmod));
  beneath.Set("futimens", Napi::Function::New(env, Futimens));
  exports.Set("beneath", beneath);
}

}  // namespace blit_beneath
