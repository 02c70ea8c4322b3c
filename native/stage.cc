// A remote destination fills a directory of small files it made in a staging directory beside it
// (transport/stream/fresh-files.ts), then puts the staging directory in the directory's place. On
// the JS thread that was two lstats, two readdirs and two renames by /proc/self/fd paths per
// directory, ~0.2 ms each of 200 directories in a push of 20,000 files (docs/DECISIONS.md). Here
// it is the same checks through one descriptor of the parent, and one renameat2: the empty
// directory the plan made there trades names with the staging directory (RENAME_EXCHANGE) instead
// of being renamed aside first, and stays under the staging directory's temp name as the session's
// next staging directory (nothing is freed during a session: see fresh-files.ts `spares`).

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

int Place(int parent, const std::string& stage, const std::string& place, uint64_t dev, uint64_t ino) {
  struct stat staged;
  if (fstatat(parent, stage.c_str(), &staged, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(staged.st_mode) ||
      static_cast<uint64_t>(staged.st_dev) != dev || static_cast<uint64_t>(staged.st_ino) != ino) {
    return 0;
  }
  struct stat there;
  if (fstatat(parent, place.c_str(), &there, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) return 0;
    return Rename2(parent, stage.c_str(), place.c_str(), kNoReplace) == 0 ? 1 : 0;
  }
  if (!S_ISDIR(there.st_mode) || !EmptyDirAt(parent, place.c_str())) return 0;
  if (Rename2(parent, stage.c_str(), place.c_str(), kExchange) != 0) return 0;
  // What traded places is checked by the name it now has: entries put in meanwhile send both back.
  if (EmptyDirAt(parent, stage.c_str())) return 2;
  Rename2(parent, stage.c_str(), place.c_str(), kExchange);
  return 0;
}

}  // namespace

Napi::Value PlaceStaged(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string parentPath = PathArg(info[0]);
  std::string stage = PathArg(info[1]);
  std::string place = PathArg(info[2]);
  bool lossless = true;
  uint64_t dev = info[3].As<Napi::BigInt>().Uint64Value(&lossless);
  uint64_t ino = info[4].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!IsName(stage) || !IsName(place) || stage == place) return Napi::Number::New(env, 0);
  int parent = open(parentPath.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (parent < 0) return Napi::Number::New(env, 0);
  int placed = Place(parent, stage, place, dev, ino);
  close(parent);
  return Napi::Number::New(env, placed);
}

}  // namespace blit
