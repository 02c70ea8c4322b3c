// Copying files the safe way in C++: a temp file beside the target (or straight under its name in
// a staged directory), copy_file_range or pread/pwrite, mode and nanosecond times through the open
// descriptor, then the rename; the source checked before and after. Batches of them (copyFiles, and
// the copy pool's threads) and whole-directory jobs (whole_dir.cc) run on it.

#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "xattr.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "owner.h"

namespace blit {

struct DirJob;  // whole_dir.h

// What came of one file's copy, and which side a failure was on (exported in `codes.status` and
// `codes.stage`).
enum Status : int32_t { kCopied = 0, kFailed = 1, kChanged = 2, kCopiedSourceKept = 3, kUnchanged = 4, kUpdated = 5 };
enum Stage : int32_t { kStageSource = 0, kStageDest = 1 };

struct CopyResult {
  int32_t status = kCopied;
  int32_t err = 0;
  int32_t stage = kStageDest;
  double bytes = 0;
  OwnerOutcome owner;  // giving the written file its owner (owner.h)
  // What came of the xattrs (XattrFlag bits) and the first errno of a failed kind.
  uint8_t xattrs = 0;
  int32_t xattrErr = 0;
};

// Adds what ApplyXattrs did (or a failure to read the source's: readErr) to result->xattrs.
struct XattrOutcome;
void NoteXattrs(struct CopyResult* result, int readErr, const XattrOutcome& outcome);

// CopyResult.xattrs bits (exported in `codes.xattrOutcome`): per kind, kept or not.
enum XattrFlag : uint8_t { kXattrsApplied = 1, kXattrsFailed = 2, kAclsApplied = 4, kAclsFailed = 8 };

class Scratch;

// Copies bytes [from, to) of in to the same offsets of out through `buffer`. Returns 0, or an errno
// (*stage: which side); *changed when the source ended early.
int CopyRange(int in, int out, uint64_t from, uint64_t to, Scratch& buffer, int32_t* stage, bool* changed);

// A fresh temp path beside `dst`: `.blit-<pid>-<12 hex>.tmp`, as fsops/temp-path.ts names them.
std::string TempPathFor(const std::string& dst);

// Whether `name` is such a temp name (fsops/temp-path.ts isTempName).
bool IsTempName(const std::string& name);

// Whether a file created with mode & 0777 under `umask` still needs a chmod to get `mode`: special
// bits, or permission bits the umask strips (fsops/metadata.ts needsChmod).
bool NeedsChmod(uint32_t mode, uint32_t umask);

// The directory of the file a batch is on, kept open across the batch: consecutive files mostly
// share one, so the *at() calls below skip walking the whole path again for each system call.
// Falls back to (AT_FDCWD, full path) when the directory cannot be opened.
struct DirCache {
  std::string dir;
  int fd = -1;
  // What a file made in `dir` starts with (NewFileFacts), read once per directory.
  bool factsRead = false;
  bool startsBare = false;   // no xattrs blit keeps: no default ACL there, no security label
  bool gidKnown = false;     // its group, whatever the mount's group rule: the directory's
  uint32_t newGid = 0;       // (set-group-ID) or ours, when both are the same
  // Its file system has no O_TMPFILE (land.cc LandUnnamed): named temp files there.
  bool noTmpfile = false;
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
      factsRead = false;
      noTmpfile = false;
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
    factsRead = false;
    noTmpfile = false;
    dir.clear();
  }
};

// Fills in the DirCache's facts about files made in its directory (one fstat and one llistxattr
// of the directory): their owner is ours, their group the directory's when it is set-group-ID,
// ours otherwise (the directory's under a `grpid` mount: known only when both agree), and they
// start with no xattr blit keeps unless the directory has a default ACL (inherited) or any
// security.* one (an LSM labels new files there).
void NewFileFacts(DirCache& dirs);

// A file just made in `dirs`' directory, open as `fd` (the copy threads' and the landing threads'):
// its owner given, unless it has it already (wanted, ours, and the group known to be the one it
// gets, on a local kernel file system: applied then, without an fchown); then its xattrs made
// `wanted` within `keep`, without reading its own where it starts with none. NewFileFacts first.
OwnerOutcome GiveNewFileOwner(int fd, const DirCache& dirs, const Owner& owner);
XattrOutcome ApplyNewFileXattrs(int fd, const DirCache& dirs, const Xattrs& wanted, int keep);

// Whether `st` still has the size and mtime a file was listed with (it did not change meanwhile).
bool SameSizeAndMtime(const struct stat& st, uint64_t size, int64_t sec, int64_t nsec);

// Writes all `size` bytes at `offset` (short writes and EINTR retried); false with errno set.
bool WriteAll(int fd, const char* data, size_t size, off_t offset);

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

ThreadScratch& ScratchOfThread();

// renameat(2) that fails with EEXIST rather than replace what is at `to` (ENOSYS or EINVAL where the
// system or the file system cannot promise that).
int RenameNoReplace(int fromAt, const char* from, int toAt, const char* to);

// Moves `from` to the name `to` only while nothing is there (EEXIST otherwise): see copy.cc.
int PlaceNoReplace(int fromAt, const char* from, int toAt, const char* to);

// How a copied file takes its name.
enum Placement {
  kRenameOver,  // a temp file renamed over the target (what is there was compared)
  kNoReplace,   // a temp file given the name only while it is free (PlaceNoReplace)
  kDirect,      // straight under its name, in a directory staged under a temp name (RunWholeDir),
                // where no one sees it before it is complete
};

// Copies one file (see copy.cc).
CopyResult CopyOne(const std::string& src, const std::string& dst, uint64_t size, int64_t sec, int64_t nsec,
                   uint32_t mode, bool chmodAfter, bool removeSource, bool compareFirst, bool metadataMatches,
                   Scratch& buffer, Scratch& other, DirCache& srcDirs, DirCache& dstDirs,
                   Placement placement = kRenameOver, Owner owner = Owner(), int keepXattrs = 0,
                   bool sparse = false);

// A batch of copies as plain C++ data: parsed from JavaScript on the main thread, run on any thread.
struct CopyBatch {
  uint32_t id = 0;
  std::vector<std::string> srcs, dsts;
  std::vector<std::string> rels;  // what the activity board shows per file ("copy: " + rel)
  std::vector<uint64_t> sizes;
  std::vector<int64_t> secs, nsecs;
  std::vector<uint32_t> modes;
  std::vector<uint8_t> flags;
  std::vector<Owner> owners;  // optional (NativeBatch uids, gids): empty, no owner is given
  std::string label;       // what the thread shows on the activity board while it runs the batch
  int delayMs = 0;         // tests only: every file takes this much longer (a slow mount)
  int hangIndex = -1;      // tests only: the file whose copy hangs (a hung mount)
  std::vector<int32_t> status, err, stage;
  std::vector<double> bytes;
  std::vector<int32_t> ownerErr;  // per file: -1 no owner given, 0 given, else the errno
  std::vector<uint8_t> xattrs;
  std::vector<int32_t> xattrErr;
  uint32_t done = 0;
  std::unique_ptr<DirJob> dirJob;  // set: a fresh-directory job (copyDir) instead of a batch

  // Out of line (copy.cc), where DirJob is complete.
  CopyBatch();
  CopyBatch(CopyBatch&&) noexcept;
  ~CopyBatch();
};

// What each file of a batch asks for (NativeBatch flags, exported in `codes.batchFlag`).
enum BatchFlag : uint8_t {
  kChmodAfter = 1,        // set the mode after the file is written (NeedsChmod)
  kRemoveSource = 2,      // a move: remove the source once the copy has its name
  kCompareFirst = 4,      // --checksum: compare contents first, copy only when they differ
  kMetadataMatches = 8,   // with kCompareFirst: the destination's mode and mtime match already
  kBatchKeepXattrs = 16,  // copy the source's xattrs (not ACLs) onto the temp file
  kBatchKeepAcls = 32,    // copy the source's ACLs
  kSparse = 64,           // the source has holes (allocated < size): keep them (sparse.h)
};

// A batch as fsops/copy-file.ts builds it (NativeBatch): { srcs: string[], dsts: string[], rels: string[],
// sizes: Float64Array, secs: Float64Array, nsecs: Uint32Array, modes: Uint32Array, flags: Uint8Array (BatchFlag) }
CopyBatch ParseBatch(const Napi::Value& value);

// Each file is shown on the activity board (`show`) before its copy starts, so a stall names the one
// that hangs, not the batch's first.
void RunBatch(CopyBatch& batch, const std::function<void(const std::string&)>& show);

// { status: Int32Array, errno: Int32Array, stage: Int32Array, bytes: Float64Array, done }
Napi::Object BatchResult(Napi::Env env, const CopyBatch& batch);

// copyFiles(batch, beat?, written?, slots?, slot?): see copy.cc.
Napi::Value CopyFiles(const Napi::CallbackInfo& info);

// setChangeSource(path): tests only (util/env-faults.ts changeSource): once a copy of `path` has
// read its data, its first byte is rewritten in place before the checks that it is unchanged.
Napi::Value SetChangeSource(const Napi::CallbackInfo& info);

// Tests only: when setChangeSource named `src`, its first byte is rewritten in place now (same
// size, new mtime). Called once a file's data is read, before the checks that it is unchanged.
void ChangeSourceIfInjected(const std::string& src);
// The same for `rel` below the directory whose path is `base`: the path is joined only when a test
// set the hook (the readers below a daemon's module call this for every file).
void ChangeSourceIfInjected(const std::string& base, const std::string& rel);

// setTimes(path, sec, nsec, noFollow): mtime and atime to the nanosecond.
Napi::Value SetTimes(const Napi::CallbackInfo& info);

}  // namespace blit
