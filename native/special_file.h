// Special files (FIFOs, character and block devices) recreated at the destination the safe way:
// made under a temp name beside the target (mknodat), given mode and mtime, renamed over it. A
// FIFO needs no privilege; a device node needs root (CAP_MKNOD), as rsync -D. Sockets are never
// made: a socket file is useless without the process that bound it.
#pragma once

#include <cstdint>
#include <string>

#include <napi.h>

#include "owner.h"

namespace blit {

// Whether a node of this type (st_mode & S_IFMT) is made here: FIFOs always, devices only as
// root, nothing else. Otherwise *reason says why not.
bool MayMakeSpecial(uint32_t fileType, const char** reason);

// Makes the node at `dst` (replacing what is there unless noReplace): 0 or an errno. `owner` is given
// before the mode (owner.h); what came of it goes to *ownerOut.
int MakeSpecial(const std::string& dst, uint32_t fileType, uint32_t mode, uint64_t rdev, int64_t sec, int64_t nsec,
                bool noReplace = false, Owner owner = Owner(), OwnerOutcome* ownerOut = nullptr);

// makeSpecial(path, fileType, mode, rdev: bigint, sec, nsec[, uid, gid]): throws an errno error (see
// MakeSpecial); returns the owner's outcome: -1 not given, 0 given, else the errno of the chown.
Napi::Value MakeSpecialJs(const Napi::CallbackInfo& info);

}  // namespace blit
