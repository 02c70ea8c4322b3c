// Owner and group fidelity (issue 17): a written entry gets the source's uid and gid when the
// transfer keeps owners (JavaScript decides that: euid 0 and no --no-owner, fsops/owner.ts), as the
// step after the data and before xattrs, the mode and the times (chown clears setuid bits).

#pragma once

#include <cstdint>

#include "listing.h"

namespace blit {

// An owner to give an entry; both ids kNoId: leave it as written.
constexpr uint32_t kNoId = 0xFFFFFFFFu;

struct Owner {
  uint32_t uid = kNoId;
  uint32_t gid = kNoId;
  bool wanted() const { return uid != kNoId || gid != kNoId; }
};

// What came of giving an entry its owner: not wanted, applied, or failed with `err`.
struct OwnerOutcome {
  bool tried = false;
  int err = 0;
};

// The owner a listed source entry asks for, when `keep` (the transfer keeps owners).
Owner OwnerOf(const ListedItem& item, bool keep);

// Whether the destination entry `d` lacks the owner `s` asks for (compared only when `keep`).
bool OwnerDiffers(const ListedItem& s, const ListedItem& d, bool keep);

// fchown on an open descriptor (a temp file before its mode is set).
OwnerOutcome ApplyOwnerFd(int fd, Owner owner);

// fchownat without following a last symbolic link (links, directories, updates by path).
OwnerOutcome ApplyOwnerAt(int dirFd, const char* path, Owner owner);

// Per-job counts of owners applied and failed, with the first failure's errno.
struct OwnerCounts {
  uint32_t applied = 0, failed = 0;
  int firstErr = 0;
  void Add(const OwnerOutcome& outcome) {
    if (!outcome.tried) return;
    if (outcome.err == 0) {
      applied++;
      return;
    }
    failed++;
    if (firstErr == 0) firstErr = outcome.err;
  }
};

}  // namespace blit
