// A remote destination fills a directory of small files it made in a staging directory beside it
// (transport/stream/fresh-files.ts), then puts the staging directory in the directory's place. On
// the JS thread that was two lstats, two readdirs and two renames by /proc/self/fd paths per
// directory (25-40 ms of a push's blitd main thread for 200 directories, docs/DECISIONS.md). Here
// it is the same checks through one descriptor of the parent, and one renameat2: the empty
// directory the plan made there trades names with the staging directory (RENAME_EXCHANGE) instead
// of being renamed aside first, and stays under the staging directory's temp name as the session's
// next staging directory (nothing is freed during a session: see fresh-files.ts `spares`). Where the
// file system or the system has no such flags, it renames as before (PlaceByRenames).

#include "stage.h"

#include <cerrno>
#include <cstdint>
#include <string>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

namespace blit {

namespace {

constexpr unsigned kNoReplace = 1;  // RENAME_NOREPLACE, as in <linux/fs.h>
constexpr unsigned kExchange = 2;   // RENAME_EXCHANGE

int Rename2(int dirFd, const char* from, const char* to, unsigned flags) {
#if defined(__linux__) && defined(SYS_renameat2)
  return static_cast<int>(syscall(SYS_renameat2, dirFd, from, dirFd, to, flags));
#else
  (void)dirFd, (void)from, (void)to, (void)flags;
  errno = ENOSYS;
  return -1;
#endif
}

// Whether `name` in dirFd is a directory (not through a link) with no entry but . and ..; false
// when it cannot be read.
bool EmptyDirAt(int dirFd, const char* name) {
  int fd = openat(dirFd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return false;
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    close(fd);
    return false;
  }
  bool empty = true;
  errno = 0;
  while (struct dirent* entry = readdir(dir)) {
    const char* n = entry->d_name;
    if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'))) continue;
    empty = false;
    break;
  }
  if (errno != 0) empty = false;
  closedir(dir);
  return empty;
}

// Whether `name` in dirFd is still the directory of `dev` and `ino` (never through a link).
bool IsDir(int dirFd, const char* name, uint64_t dev, uint64_t ino) {
  struct stat st;
  return fstatat(dirFd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) &&
         static_cast<uint64_t>(st.st_dev) == dev && static_cast<uint64_t>(st.st_ino) == ino;
}

// renameat2's flags are not for every file system (NFS takes none; exFAT, CIFS and ntfs3 no
// RENAME_EXCHANGE; vfat had none before Linux 6.0) nor every system.
bool FlagsUnsupported(int err) { return err == EINVAL || err == ENOSYS || err == EOPNOTSUPP; }

// Without renameat2's flags, as blit placed a staging directory before: the empty directory there
// renamed aside under `aside` (checked empty there, put back otherwise), then a plain rename.
int PlaceByRenames(int parent, const char* stage, const char* place, const char* aside, bool there) {
  if (!there) return renameat(parent, stage, parent, place) == 0 ? 1 : 0;
  if (renameat(parent, place, parent, aside) != 0) return 0;
  if (!EmptyDirAt(parent, aside)) {
    renameat(parent, aside, parent, place);
    return 0;
  }
  if (renameat(parent, stage, parent, place) == 0) return 3;
  renameat(parent, aside, parent, place);
  return 0;
}

int Place(int parent, const std::string& stage, const std::string& place, const std::string& aside, uint64_t dev,
          uint64_t ino, bool renamesOnly) {
  if (!IsDir(parent, stage.c_str(), dev, ino)) return 0;
  if (renamesOnly) {
    struct stat st;
    bool there = fstatat(parent, place.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (there && (!S_ISDIR(st.st_mode) || !EmptyDirAt(parent, place.c_str()))) return 0;
    return PlaceByRenames(parent, stage.c_str(), place.c_str(), aside.c_str(), there);
  }
  struct stat there;
  if (fstatat(parent, place.c_str(), &there, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) return 0;
    if (Rename2(parent, stage.c_str(), place.c_str(), kNoReplace) == 0) return 1;
    return FlagsUnsupported(errno) ? PlaceByRenames(parent, stage.c_str(), place.c_str(), aside.c_str(), false) : 0;
  }
  if (!S_ISDIR(there.st_mode) || !EmptyDirAt(parent, place.c_str())) return 0;
  if (Rename2(parent, stage.c_str(), place.c_str(), kExchange) != 0) {
    return FlagsUnsupported(errno) ? PlaceByRenames(parent, stage.c_str(), place.c_str(), aside.c_str(), true) : 0;
  }
  // What traded places is checked by the name it now has: entries put in meanwhile send both back.
  if (EmptyDirAt(parent, stage.c_str())) return 2;
  if (Rename2(parent, stage.c_str(), place.c_str(), kExchange) == 0) return 0;
  // Not sent back (a name moved meanwhile): placed if the place holds the staging directory. The
  // directory there stays under the staging name with what was put in it; the session neither
  // takes it again nor removes it (it is not empty).
  return IsDir(parent, place.c_str(), dev, ino) ? 2 : 0;
}

}  // namespace

Napi::Value PlaceStaged(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string parentPath = PathArg(info[0]);
  std::string stage = PathArg(info[1]);
  std::string place = PathArg(info[2]);
  std::string aside = PathArg(info[3]);
  bool lossless = true;
  uint64_t dev = info[4].As<Napi::BigInt>().Uint64Value(&lossless);
  uint64_t ino = info[5].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!IsName(stage) || !IsName(place) || !IsName(aside) || stage == place || aside == stage || aside == place) {
    return Napi::Number::New(env, 0);
  }
#ifdef O_PATH
  int parent = open(parentPath.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
#else
  int parent = open(parentPath.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
#endif
  if (parent < 0) return Napi::Number::New(env, 0);
  // Tests only: as on a file system without renameat2's flags.
  bool renamesOnly = info.Length() > 6 && info[6].ToBoolean();
  int placed = Place(parent, stage, place, aside, dev, ino, renamesOnly);
  close(parent);
  return Napi::Number::New(env, placed);
}

}  // namespace blit
