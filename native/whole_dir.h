// Whole-directory jobs: a copy thread lists a directory (both sides, for one that exists at the
// destination), applies the compare rules, copies what is new or differs and hands back what
// JavaScript must still do (engine/whole-dirs.ts). See whole_dir.cc.

#pragma once

#include <napi.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "copy.h"
#include "listing.h"
#include "owner.h"

namespace blit {

// An --exclude pattern as engine/filter.ts namePattern gives it: literal characters and '*', and a
// trailing '/' for directories only, split once per job rather than per entry.
struct NamePattern {
  std::string body;  // without the trailing '/'
  bool dirOnly = false;
  bool leadingStar = false;
};

NamePattern ParseNamePattern(const std::string& text);

// A whole-directory job (see RunWholeDir): what to copy, then what happened.
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
  bool hardLinks = false;  // files with a link count above 1 go back to JavaScript (residual)
  bool sparse = false;  // keep holes: files with allocated < size go through CopySparse (sparse.h)
  // --exclude patterns (engine/filter.ts nativeExcludes): matching entries are left out as if they
  // were not there (DropExcluded).
  std::vector<NamePattern> excludes;
  // Entries get the source's owner (owner.h); what came of it is counted.
  bool owners = false;
  OwnerCounts ownerCounts;
  std::string hangName;  // tests only: the file whose copy hangs
  bool scanHang = false; // tests only: the listing hangs
  // Results.
  int placeErr = 0;  // fresh: the filled directory could not take its name (left under the temp one)
  bool noReplace = false;  // a big fresh one joined a directory made meanwhile: replace nothing there
  // How its files take their names (CopyOne).
  Placement placement() const { return !stage.empty() ? kDirect : noReplace ? kNoReplace : kRenameOver; }
  int listErr = 0;
  uint32_t entries = 0, files = 0, links = 0, others = 0;
  uint32_t sparseFiles = 0;  // of files, those copied with their holes kept
  uint32_t specials = 0;        // FIFOs and devices made (special_file.h)
  uint32_t specialRefused = 0;  // devices not made: not root
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
  // xattrs and ACLs: which kinds are kept (xattr.h kKeep*), and per kind entries kept and not, with
  // the first errno of a failure.
  int keepXattrs = 0;
  uint32_t xattrsApplied = 0, xattrsFailed = 0, aclsApplied = 0, aclsFailed = 0;
  int32_t xattrErr = 0;
  // A sync job's listings read the xattrs only of entries changed since these (XattrReads
  // changedFromNs, per side; 0: of all), and say how many entries on both sides neither read.
  int64_t srcXattrsFromNs = 0, dstXattrsFromNs = 0;
  uint32_t xattrsDeferred = 0;
  int64_t srcMaxCtimeNs = 0;  // the latest change time among the source's entries
  std::vector<std::string> bothNames;  // subdirectories on both sides: jobs of their own
  std::vector<uint32_t> bothModes;
  std::vector<int64_t> bothMtimes;
  std::vector<std::string> residual;  // source entries JavaScript reconciles itself (kind conflicts)
  std::vector<std::string> extraNames;  // mirror: destination entries the source lacks
  std::vector<uint8_t> extraKinds;
  std::vector<std::string> temps;  // destination temp files (JavaScript removes stale ones)
};

// What went wrong with one entry, as engine/whole-dirs.ts turns it into a failure (exported in
// `codes.problem`).
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

// Compare modes (exported in `codes.compare` under engine/types.ts CompareMode's names;
// engine/compare.ts says what each means).
constexpr int32_t kCompareDefault = 0, kCompareSizeOnly = 1, kCompareIgnoreTimes = 2, kCompareChecksum = 3,
                  kCompareIgnoreExisting = 4;

// What the destination needs for source entry `s`, given `d` under the same name: the decide() of
// engine/compare.ts, numbered as its Decision names are listed in kDecisionNames.
enum Decision : int32_t { kTransfer = 0, kSkip = 1, kUpdate = 2, kHash = 3, kConflict = 4 };
inline constexpr const char* kDecisionNames[] = {"transfer", "skip", "update", "hash", "conflict"};

// `owners`: the transfer keeps owners (root, no --no-owner), so an owner-only difference is an update.
// keepXattrs: kKeepXattrs | kKeepAcls (xattr.h), the kinds compared besides mode and mtime.
Decision Decide(int32_t compare, const ListedItem& s, const ListedItem& d, bool owners = false, int keepXattrs = 3);

// Whether an --exclude leaves `item` out (see whole_dir.cc).
bool Excluded(const std::vector<NamePattern>& excludes, const ListedItem& item);

// Runs a whole-directory job on the calling thread (see whole_dir.cc).
void RunWholeDir(DirJob& job, int delayMs, const std::function<void(const std::string&)>& show);

// A job's result for JavaScript (fsops/native.ts NativeDirResult).
Napi::Object DirJobResult(Napi::Env env, const DirJob& job);

}  // namespace blit
