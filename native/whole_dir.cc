// A directory blit has just created at the destination, with nothing in it, needs no comparison: a
// copy thread lists the source directory itself, copies its files, recreates its symbolic links and
// makes its subdirectories, which it hands back to JavaScript as jobs of their own. JavaScript then
// does nothing per file (engine/whole-dirs.ts); this is the local fast path for new trees.

#include "whole_dir.h"
#include "special_file.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <unordered_map>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "board.h"
#include "common.h"

namespace blit {

NamePattern ParseNamePattern(const std::string& text) {
  NamePattern pattern;
  pattern.dirOnly = !text.empty() && text.back() == '/';
  pattern.body = pattern.dirOnly ? text.substr(0, text.size() - 1) : text;
  pattern.leadingStar = !pattern.body.empty() && pattern.body[0] == '*';
  return pattern;
}

namespace {

void AddProblem(DirJob& job, const std::string& name, int32_t kind, int32_t status, int32_t err, int32_t stage) {
  job.problemNames.push_back(name);
  job.problemKinds.push_back(kind);
  job.problemStatus.push_back(status);
  job.problemErr.push_back(err);
  job.problemStage.push_back(stage);
}

int CopyLink(const std::string& dst, const std::string& target, int64_t sec, int64_t nsec, OwnerCounts& owners,
             Owner owner, bool noReplace = false) {
  std::string temp = TempPathFor(dst);
  if (symlink(target.c_str(), temp.c_str()) != 0) return errno;
  owners.Add(ApplyOwnerAt(AT_FDCWD, temp.c_str(), owner));
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

// Mtimes closer than this are equal (engine/compare.ts: times set without the addon are rounded).
constexpr int64_t kMtimeToleranceNs = 2000;

bool SameMtime(const ListedItem& a, const ListedItem& b) {
  int64_t diff = MtimeNs(a) - MtimeNs(b);
  return diff < kMtimeToleranceNs && diff > -kMtimeToleranceNs;
}

// As engine/compare.ts sameMetadata: xattrs count only where both sides were read.
bool SameMetadata(const ListedItem& a, const ListedItem& b, bool owners, int keepXattrs) {
  return (a.mode & 07777) == (b.mode & 07777) && SameMtime(a, b) && !OwnerDiffers(a, b, owners) &&
         (!a.xattrsRead || !b.xattrsRead || SameXattrs(a.xattrs, b.xattrs, keepXattrs));
}

}  // namespace

// Special files (engine/compare.ts sameSpecial): same type, same device number, same mode and mtime.
bool SameSpecial(const ListedItem& s, const ListedItem& d) {
  return s.fileType == d.fileType && s.rdev == d.rdev && (s.mode & 07777) == (d.mode & 07777) && SameMtime(s, d);
}

Decision Decide(int32_t compare, const ListedItem& s, const ListedItem& d, bool owners, int keepXattrs) {
  // --ignore-existing leaves whatever exists alone, whatever its kind (as rsync does).
  if (compare == kCompareIgnoreExisting) return kSkip;
  if (s.kind != d.kind) return kConflict;
  switch (s.kind) {
    case kFile:
      break;
    case kSymlink:
      // A link's owner, like its times, comes with a new link (an update by path would follow it).
      if (compare == kCompareIgnoreTimes || s.link != d.link) return kTransfer;
      return SameMtime(s, d) && !OwnerDiffers(s, d, owners) ? kSkip : kTransfer;
    case kOther:
      // A FIFO or device is replaced when it is another node, or has another mode or mtime;
      // sockets are never made, so left alone.
      if (s.fileType != S_IFIFO && s.fileType != S_IFCHR && s.fileType != S_IFBLK) return kSkip;
      return SameSpecial(s, d) && !OwnerDiffers(s, d, owners) ? kSkip : kTransfer;
    default:  // directories (their metadata is set after their contents)
      return kSkip;
  }
  if (compare == kCompareIgnoreTimes || s.size != d.size) return kTransfer;
  if (compare == kCompareChecksum) return kHash;
  if (compare == kCompareDefault && !SameMtime(s, d)) return kTransfer;
  return SameMetadata(s, d, owners, keepXattrs) ? kSkip : kUpdate;
}

namespace {

// What a whole-directory job's copy threads share while they run it.
struct DirWork {
  DirJob& job;
  int delayMs;
  Scratch& buffer;
  Scratch& other;
  DirCache srcDirs, dstDirs;
  DirWork(DirJob& j, int delay, Scratch& b, Scratch& o) : job(j), delayMs(delay), buffer(b), other(o) {}
};

void CountXattrs(DirJob& job, uint8_t outcome, int32_t err) {
  if (outcome & kXattrsApplied) job.xattrsApplied++;
  if (outcome & kXattrsFailed) job.xattrsFailed++;
  if (outcome & kAclsApplied) job.aclsApplied++;
  if (outcome & kAclsFailed) job.aclsFailed++;
  if (job.xattrErr == 0 && (outcome & (kXattrsFailed | kAclsFailed))) job.xattrErr = err;
}

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
  bool chmodAfter = NeedsChmod(mode, job.umask);
  job.handled++;
  job.handledBytes += item.size;
  // Holes only where the source has them: a dense file takes no SEEK_DATA.
  bool sparse = job.sparse && item.allocated < item.size;
  CopyResult r = CopyOne(src, dst, static_cast<uint64_t>(item.size), static_cast<int64_t>(item.sec), item.nsec,
                         mode, chmodAfter, false, compareFirst, metadataMatches, work.buffer, work.other,
                         work.srcDirs, work.dstDirs, job.placement(), OwnerOf(item, job.owners), job.keepXattrs, sparse);
  job.ownerCounts.Add(r.owner);
  CountXattrs(job, r.xattrs, r.xattrErr);
  Beat();
  switch (r.status) {
    case kCopied:
      job.files++;
      if (sparse) job.sparseFiles++;
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

// A FIFO or device node (special_file.h) where the source has one; sockets, and devices when not
// root, are skipped (a device counted as refused).
void MakeSpecialOf(DirJob& job, const ListedItem& item, const std::string& dst, bool noReplace) {
  const char* reason = nullptr;
  if (!MayMakeSpecial(item.fileType, &reason)) {
    job.others++;
    if (item.fileType == S_IFCHR || item.fileType == S_IFBLK) job.specialRefused++;
    return;
  }
  OwnerOutcome given;
  int err = MakeSpecial(dst, item.fileType, item.mode, item.rdev, static_cast<int64_t>(item.sec), item.nsec, noReplace,
                        OwnerOf(item, job.owners), &given);
  if (err != 0) {
    AddProblem(job, item.name, kProblemLink, 0, err, kStageDest);
  } else {
    job.specials++;
    job.ownerCounts.Add(given);
  }
  Beat();
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
      int err = CopyLink(dst, item.link, static_cast<int64_t>(item.sec), item.nsec, job.ownerCounts,
                         OwnerOf(item, job.owners), job.noReplace);
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
      // Its mode and times come from JavaScript once it is full; its owner now, where mkdir did
      // not give it that one already (as the walk's finishDirectories compares first).
      struct stat made;
      if (job.owners && (lstat(stage.c_str(), &made) != 0 || made.st_uid != item.uid || made.st_gid != item.gid))
        job.ownerCounts.Add(ApplyOwnerAt(AT_FDCWD, stage.c_str(), OwnerOf(item, true)));
      job.dirNames.push_back(item.name);
      job.dirStages.push_back(stage.substr(stage.rfind('/') + 1));
      job.dirModes.push_back(item.mode);
      job.dirMtimes.push_back(MtimeNs(item));
      return;
    }
    default:
      MakeSpecialOf(job, item, dst, job.noReplace);
  }
}

// A file with other names, which JavaScript links as one inode (engine/hard-links.ts): residual.
bool LinkedElsewhere(const DirJob& job, const ListedItem& item) {
  return job.hardLinks && item.kind == kFile && item.nlink > 1;
}

// The bytes of the files in `listed` that a job will copy (or compare first, under --checksum), as
// Sync decides for each, and how many subdirectories it lists.
void ToCopy(const DirJob& job, const Listed& listed,
            const std::unordered_map<std::string, ListedItem*>& existing, int64_t& bytes, int64_t& subdirs) {
  bytes = subdirs = 0;
  for (const ListedItem& item : listed.items) {
    if (item.kind == kDir) subdirs++;
    if (item.kind != kFile || LinkedElsewhere(job, item)) continue;
    auto found = existing.find(item.name);
    if (found == existing.end()) {
      bytes += static_cast<int64_t>(item.size);
      continue;
    }
    Decision decision = Decide(job.compare, item, *found->second, job.owners, job.keepXattrs);
    if (decision == kTransfer || decision == kHash) bytes += static_cast<int64_t>(item.size);
  }
}

// Where a listing left an entry's xattrs unread but the other side's were read (changed since the
// trees were last found equal), reads them now: they are compared. Unread on both sides, they are
// as they were then, equal (perf/xattr-mark.ts); SameMetadata takes them as equal.
void ReadOneSided(DirJob& job, Listed& listed, const std::unordered_map<std::string, ListedItem*>& existing) {
  for (ListedItem& item : listed.items) {
    if (item.kind == kDir || item.kind == kError) continue;
    auto found = existing.find(item.name);
    if (found == existing.end()) continue;
    ListedItem& d = *found->second;
    if (item.xattrsDeferred && d.xattrsDeferred) job.xattrsDeferred++;
    else if (item.xattrsDeferred) ReadDeferredXattrs(job.src, item);
    else if (d.xattrsDeferred) ReadDeferredXattrs(job.dst, d);
  }
}

// What follows from Decide for an entry on both sides of the same kind, done here: skip, set
// metadata, or copy (the temp file and rename replace what is there). A directory on both sides
// becomes a job of its own whatever the compare mode (--ignore-existing included).
void Sync(DirWork& work, Decision decision, const ListedItem& s, const ListedItem& d, const std::string& src,
          const std::string& dst) {
  DirJob& job = work.job;
  if (s.kind == kDir && d.kind == kDir) {
    if (OwnerDiffers(s, d, job.owners)) job.ownerCounts.Add(ApplyOwnerAt(AT_FDCWD, dst.c_str(), OwnerOf(s, true)));
    job.skipped++;
    job.bothNames.push_back(s.name);
    job.bothModes.push_back(s.mode);
    job.bothMtimes.push_back(MtimeNs(s));
    return;
  }
  switch (decision) {
    case kSkip:
    case kConflict:  // not given here (FillDir hands those back as residual)
      job.skipped++;
      return;
    case kHash:
      // --checksum with equal sizes: compare the bytes, copy only when they differ.
      CopyFileOf(work, s, src, dst, true, SameMetadata(s, d, job.owners, job.keepXattrs));
      return;
    case kTransfer:
      if (s.kind == kFile) {
        CopyFileOf(work, s, src, dst, false, false);
      } else if (s.kind == kOther) {
        MakeSpecialOf(job, s, dst, false);
      } else {
        int err = CopyLink(dst, s.link, static_cast<int64_t>(s.sec), s.nsec, job.ownerCounts, OwnerOf(s, job.owners));
        if (err != 0) AddProblem(job, s.name, kProblemLink, 0, err, kStageDest);
        else job.links++;
      }
      return;
    case kUpdate:
      break;
  }
  struct timespec times[2];
  times[0].tv_sec = static_cast<time_t>(s.sec);
  times[0].tv_nsec = static_cast<long>(s.nsec);
  times[1] = times[0];
  // As an update's every other step, and as the walk does (local-destination.ts): whatever changed.
  job.ownerCounts.Add(ApplyOwnerAt(AT_FDCWD, dst.c_str(), OwnerOf(s, job.owners)));
  if (job.keepXattrs != 0 && s.xattrsRead) {
    CopyResult noted;
    NoteXattrs(&noted, 0, ApplyXattrs(-1, dst, s.kind == kSymlink, s.xattrs, job.keepXattrs));
    CountXattrs(job, noted.xattrs, noted.xattrErr);
  }
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

}  // namespace

// Whether an --exclude leaves `item` out. Entries the walk reports whatever the filters say (names
// or link targets that are not UTF-8, entries that cannot be stat'ed) stay, to be reported.
bool Excluded(const std::vector<NamePattern>& excludes, const ListedItem& item) {
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
  for (const NamePattern& pattern : excludes) {
    if (pattern.dirOnly && item.kind != kDir) continue;
    if (terminatorFirst && pattern.leadingStar) continue;
    if (StarMatch(pattern.body, name)) return true;
  }
  return false;
}

namespace {

// Leaves out the entries an --exclude matches.
void DropExcluded(const DirJob& job, Listed& listed) {
  if (job.excludes.empty()) return;
  auto& items = listed.items;
  items.erase(std::remove_if(items.begin(), items.end(),
                             [&job](const ListedItem& item) { return Excluded(job.excludes, item); }),
              items.end());
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
  // A fresh directory's files take their xattrs from the open source descriptor (CopyOne), and
  // directories' come from JavaScript (whole-dirs.ts): a listing reads only those a compare needs.
  XattrReads sourceReads{job.sync, false, job.srcXattrsFromNs};
  Listed listed = GatherDir(job.src, false, sourceReads);
  if (listed.err != 0) {
    job.listErr = listed.err;
    return;
  }
  job.srcMaxCtimeNs = listed.maxCtimeNs;
  DropExcluded(job, listed);
  if (!job.stage.empty() && !WorthStaging(listed)) {
    job.noReplace = PlaceStage(job);  // still empty; joined a directory made meanwhile: see CopyOne
    job.stage.clear();
    if (job.placeErr != 0) return;
  }
  // Where the entries go; files straight under their names while the directory is staged.
  const std::string where = job.stage.empty() ? job.dst : job.stage;
  Listed there;
  std::unordered_map<std::string, ListedItem*> existing;
  if (job.sync) {
    there = GatherDir(job.dst, true, XattrReads{true, false, job.dstXattrsFromNs});
    if (there.err != 0) {
      job.dstListErr = there.err;
      return;
    }
    existing.reserve(there.items.size() * 2);
    for (ListedItem& item : there.items) {
      if (item.kind == kError) continue;  // unreadable: neither compared nor deleted
      if (!IsValidUtf8(reinterpret_cast<const unsigned char*>(item.name.data()), item.name.size())) continue;
      if (IsTempName(item.name)) {
        if (item.kind == kFile || item.kind == kDir || item.kind == kSymlink) job.temps.push_back(item.name);
        continue;
      }
      existing.emplace(item.name, &item);
    }
  }
  if (job.sync) ReadOneSided(job, listed, existing);
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
    if (LinkedElsewhere(job, item)) {
      job.residual.push_back(name);
      continue;
    }
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
    Decision decision = Decide(job.compare, item, d, job.owners, job.keepXattrs);
    if (decision == kConflict) {
      job.residual.push_back(name);
      continue;
    }
    Sync(work, decision, item, d, src, dst);
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

}  // namespace

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

namespace {

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

}  // namespace

// -> { placeErrno, listErrno, entries, files, links, others, bytes,
//      handled, handledBytes, sizes: Float64Array,
//      dirs (DirsValue), problems: { names, kinds, status, errno, stage (Int32Arrays) }, fatal, residual }
//      and for a sync job also { dstListErrno, skipped, updated, both (DirsValue),
//      extra: { names, kinds: Uint8Array }, temps } (fsops/native.ts, NativeDirResult).
Napi::Object DirJobResult(Napi::Env env, const DirJob& job) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("placeErrno", Napi::Number::New(env, job.placeErr));
  result.Set("listErrno", Napi::Number::New(env, job.listErr));
  result.Set("entries", Napi::Number::New(env, job.entries));
  result.Set("files", Napi::Number::New(env, job.files));
  result.Set("sparseFiles", Napi::Number::New(env, job.sparseFiles));
  result.Set("specials", Napi::Number::New(env, job.specials));
  result.Set("specialRefused", Napi::Number::New(env, job.specialRefused));
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
  Napi::Object owners = Napi::Object::New(env);
  owners.Set("applied", Napi::Number::New(env, job.ownerCounts.applied));
  owners.Set("failed", Napi::Number::New(env, job.ownerCounts.failed));
  owners.Set("errno", Napi::Number::New(env, job.ownerCounts.firstErr));
  result.Set("owners", owners);
  result.Set("residual", StringsValue(env, job.residual));
  Napi::Object xattrs = Napi::Object::New(env);
  xattrs.Set("xattrsApplied", job.xattrsApplied);
  xattrs.Set("xattrsFailed", job.xattrsFailed);
  xattrs.Set("aclsApplied", job.aclsApplied);
  xattrs.Set("aclsFailed", job.aclsFailed);
  xattrs.Set("errno", job.xattrErr);
  result.Set("xattrs", xattrs);
  // Milliseconds, rounded down (perf/xattr-mark.ts takes the earlier of this and the run's start).
  result.Set("sourceCtimeMaxMs", Napi::Number::New(env, static_cast<double>(job.srcMaxCtimeNs / 1000000)));
  if (!job.sync) return result;
  result.Set("xattrsDeferred", Napi::Number::New(env, job.xattrsDeferred));
  result.Set("dstListErrno", Napi::Number::New(env, job.dstListErr));
  result.Set("skipped", Napi::Number::New(env, job.skipped));
  result.Set("updated", Napi::Number::New(env, job.updated));
  result.Set("both", DirsValue(env, job.bothNames, job.bothModes, job.bothMtimes));
  Napi::Object extra = Napi::Object::New(env);
  extra.Set("names", StringsValue(env, job.extraNames));
  extra.Set("kinds", Typed<uint8_t, Napi::Uint8Array>(env, job.extraKinds));
  result.Set("extra", extra);
  result.Set("temps", StringsValue(env, job.temps));
  return result;
}

}  // namespace blit
