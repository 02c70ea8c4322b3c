// One directory read with an lstat per entry (readdir + fstatat + readlinkat), in plain C++ so
// that any thread may do it; listDir hands it to JavaScript. Per-file stat cost dominates converged
// mirrors, and one hop per directory replaces one per entry.

#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "xattr.h"

namespace blit {

// Kinds of entries (exported in `codes.kind`).
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
  // The rest of the lstat, for metadata fidelity (owners, hard links, special files, holes).
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t nlink = 1;
  uint32_t fileType = 0;  // st_mode & S_IFMT
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t rdev = 0;
  double allocated = 0;  // st_blocks * 512
  // The inode's change time (st_ctim) in nanoseconds since the epoch: a change to the entry's
  // xattrs or ACLs moves it, and no one but the kernel's clock sets it.
  int64_t ctimeNs = 0;
  // Extended attributes and ACLs (xattr.h); xattrsRead false when they could not be read, or were
  // not read on purpose (xattrsDeferred: see XattrReads).
  Xattrs xattrs;
  bool xattrsRead = false;
  bool xattrsDeferred = false;
};

// Which entries' xattrs a listing reads; the others are left xattrsDeferred, for the caller to read
// where it needs them (ReadDeferredXattrs) or to take from a descriptor.
struct XattrReads {
  bool any = true;   // false: none at all
  bool dirs = true;  // directories' too
  // > 0: only of entries changed since then (ctime >= it), and only where the file system's change
  // times come from this machine's clock (LocalChangeTimes): perf/xattr-mark.ts says why the others
  // are known to be as they were when both trees were last found equal.
  int64_t changedFromNs = 0;
};

// One directory read with an lstat per entry, without touching JavaScript (so any thread may do it).
struct Listed {
  int err = 0;  // non-zero: the directory itself could not be read
  std::vector<ListedItem> items;
  int64_t maxCtimeNs = 0;  // the latest change time among the items
};

// An entry's mtime in nanoseconds since the epoch.
inline int64_t MtimeNs(const ListedItem& item) {
  return static_cast<int64_t>(item.sec) * 1000000000LL + static_cast<int64_t>(item.nsec);
}

// Lists `path` (never through a symbolic link with noFollow), reading the xattrs `reads` says.
Listed GatherDir(const std::string& path, bool noFollow = false, const XattrReads& reads = XattrReads());

// Reads now the xattrs of an entry a listing of `dir` left deferred (xattrsRead says whether it could).
void ReadDeferredXattrs(const std::string& dir, ListedItem& item);

// Whether the file system under `fd` stamps change times with this machine's clock: the local
// kernel file systems (ext2/3/4, XFS, Btrfs, tmpfs, F2FS, ZFS, bcachefs), not network or FUSE ones.
bool LocalChangeTimes(int fd);

// listDir(path, waitMs?): see listing.cc.
Napi::Value ListDir(const Napi::CallbackInfo& info);

// The arrays listDir answers with, of `items` (of those at the indices `only` holds, when given).
Napi::Object ListedArrays(Napi::Env env, const std::vector<ListedItem>& items, const std::vector<size_t>* only);

// setListingHang(path): tests only (BLIT_TEST_HANG=scan:REL on the walk): listing path hangs.
Napi::Value SetListingHang(const Napi::CallbackInfo& info);

}  // namespace blit
