// See owner.h.

#include "owner.h"

#include <cerrno>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace blit {

Owner OwnerOf(const ListedItem& item, bool keep) {
  Owner owner;
  if (!keep) return owner;
  owner.uid = item.uid;
  owner.gid = item.gid;
  return owner;
}

bool OwnerDiffers(const ListedItem& s, const ListedItem& d, bool keep) {
  return keep && (s.uid != d.uid || s.gid != d.gid);
}

OwnerOutcome ApplyOwnerFd(int fd, Owner owner) {
  OwnerOutcome outcome;
  if (!owner.wanted()) return outcome;
  outcome.tried = true;
  if (fchown(fd, owner.uid, owner.gid) != 0) outcome.err = errno;
  return outcome;
}

OwnerOutcome ApplyOwnerAt(int dirFd, const char* path, Owner owner) {
  OwnerOutcome outcome;
  if (!owner.wanted()) return outcome;
  outcome.tried = true;
  if (fchownat(dirFd, path, owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) != 0) outcome.err = errno;
  return outcome;
}

}  // namespace blit
