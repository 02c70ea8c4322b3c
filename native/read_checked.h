// Reading a file's bytes for the data plane's sender, checked: see read_checked.cc.

#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace blit {

struct DirCache;

// readChecked(fd, into: Uint8Array, offset, size, mtimeSec, mtimeNsec) -> 0 | -1 | errno: fills
// `into` from fd at `offset`, then fstat: -1 when the file ended early or is no longer a regular
// file of `size` bytes with that mtime (it changed while read), else 0; an errno when a read or
// the fstat failed. On the calling thread.
Napi::Value ReadChecked(const Napi::CallbackInfo& info);

// openedAsListed(fd, size, mtimeSec, mtimeNsec) -> -1 | 0 | 1 | errno + 1 (never 0 or 1: errnos
// are positive): fstat of a file just opened to be sent. -1 when it is not a regular file of
// `size` bytes with that mtime; 0 when it is; 1 when it is and has holes on disk (fewer bytes
// allocated than its size); errno + 1 when the fstat failed. On the calling thread.
Napi::Value OpenedAsListed(const Napi::CallbackInfo& info);

// ReadWholeAt's answers besides -errno (exported as codes.wholeRead: read-listed.ts decodes them).
constexpr int kWholeRead = 0;
constexpr int kNotAsListed = 1;
constexpr int kChangedWhileRead = 2;
constexpr int kReadFailedBase = 1 << 16;

// Where ReadWholeAt's paths are: below the directory `fd` (its real path `path`), resolved as
// blit_beneath resolves them (beneath.h OpenForReadBeneath; `walk`: never through openat2).
struct WholeRoot {
  int fd = -1;
  std::string path;
  bool walk = false;
};

// A small file the data plane sends whole, in one step where the per-step path makes four (open,
// openedAsListed, readChecked, close): opens `path` (O_NOFOLLOW, O_NONBLOCK; below `root` when
// given, never out of it), checks it is a regular file of `size` bytes with that mtime (1 when
// not: nothing read), fills into[0, size), checks again (2 when it ended early or is no longer as
// listed: it changed while read), closes it; 0 when read and still as listed. -errno: the open (or
// the fstat after it) failed; -(65536 + errno): a read or the fstat after it did. On any thread:
// the landing threads read the sending side's groups of small files with it (land.h
// readWholeFiles). Without a root, `dirs` (when given) keeps the file's directory open from one
// call to the next (copy.h DirCache): a group's files mostly share one, and the open then looks up
// one name instead of walking the whole path again.
int ReadWholeAt(const std::string& path, char* into, int64_t size, int64_t sec, int64_t nsec,
                const WholeRoot* root, DirCache* dirs = nullptr);

// A small file to read whole, as ReadWholeAt takes it (no root).
struct WholeFile {
  const std::string* path;
  char* into;
  int64_t size, sec, nsec;
};

// ReadWholeAt(files[i]..., nullptr, &dirs) into answers[i] for each of `count` files: those of one
// directory opened, read and closed in batches through this thread's io_uring (uring.h) where there
// is one, one by one where not. The same answers either way: the two checks stay one fstat each.
void ReadWholeGroup(const WholeFile* files, size_t count, DirCache& dirs, int32_t* answers);

// ReadWholeAt(files[i]..., &root) into answers[i] for each of `count` files below `root` (a
// daemon's module): each opened beneath it by openat2 through this thread's io_uring
// (IORING_OP_OPENAT2, the same resolution as blit_beneath's openat2: RESOLVE_BENEATH |
// RESOLVE_NO_MAGICLINKS from the root's descriptor, by the whole relative path, so no directory's
// descriptor is held across the batch), read and closed in batches. A file the ring does not open
// takes ReadWholeAt's own steps (whose walk follows a link that stays below the root, and names
// what failed); without the ring, its openat2, or with `root.walk`, every file does.
void ReadWholeGroupBeneath(const WholeFile* files, size_t count, const WholeRoot& root, int32_t* answers);

}  // namespace blit
