// See special_file.h.

#include "special_file.h"

#include <cerrno>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/sysmacros.h>
#endif

#include "common.h"
#include "copy.h"

namespace blit {

bool MayMakeSpecial(uint32_t fileType, const char** reason) {
  if (fileType == S_IFIFO) return true;
  if (fileType == S_IFCHR || fileType == S_IFBLK) {
    if (geteuid() == 0) return true;
    *reason = "device files are made only as root";
    return false;
  }
  *reason = "sockets are not copied";
  return false;
}

int MakeSpecial(const std::string& dst, uint32_t fileType, uint32_t mode, uint64_t rdev, int64_t sec, int64_t nsec,
                bool noReplace, Owner owner, OwnerOutcome* ownerOut) {
  std::string temp = TempPathFor(dst);
  // Made with no permissions, so no one opens it before its mode is set.
  if (mknod(temp.c_str(), fileType, static_cast<dev_t>(fileType == S_IFIFO ? 0 : rdev)) != 0) return errno;
  int err = 0;
  // The owner before the mode (chown clears set-id bits); by path, never following or opening it.
  OwnerOutcome given = ApplyOwnerAt(AT_FDCWD, temp.c_str(), owner);
  if (ownerOut) *ownerOut = given;
  if (fchmodat(AT_FDCWD, temp.c_str(), mode & 07777, 0) != 0) err = errno;
  if (err == 0) {
    struct timespec times[2];
    times[0].tv_sec = static_cast<time_t>(sec);
    times[0].tv_nsec = static_cast<long>(nsec);
    times[1] = times[0];
    // By path, never opened: opening a FIFO blocks, and a device would be the device.
    if (utimensat(AT_FDCWD, temp.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) err = errno;
  }
  if (err == 0) {
    err = noReplace ? PlaceNoReplace(AT_FDCWD, temp.c_str(), AT_FDCWD, dst.c_str())
                    : (rename(temp.c_str(), dst.c_str()) == 0 ? 0 : errno);
  }
  if (err != 0) unlink(temp.c_str());
  return err;
}

Napi::Value MakeSpecialJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = PathArg(info[0]);
  uint32_t fileType = info[1].As<Napi::Number>().Uint32Value();
  uint32_t mode = info[2].As<Napi::Number>().Uint32Value();
  bool lossless = true;
  uint64_t rdev = info[3].As<Napi::BigInt>().Uint64Value(&lossless);
  int64_t sec = info[4].As<Napi::Number>().Int64Value();
  int64_t nsec = info[5].As<Napi::Number>().Int64Value();
  Owner owner;
  if (info.Length() > 7 && info[6].IsNumber() && info[7].IsNumber()) {
    owner.uid = info[6].As<Napi::Number>().Uint32Value();
    owner.gid = info[7].As<Napi::Number>().Uint32Value();
  }
  const char* reason = nullptr;
  if (!MayMakeSpecial(fileType, &reason)) throw ErrnoError(env, EPERM, "mknod", path);
  OwnerOutcome given;
  int err = MakeSpecial(path, fileType, mode, rdev, sec, nsec, false, owner, &given);
  if (err != 0) throw ErrnoError(env, err, "mknod", path);
  return Napi::Number::New(env, given.tried ? given.err : -1);
}

}  // namespace blit
