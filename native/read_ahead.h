// Directory read-ahead: reader threads list the directories the walk will want next (see
// read_ahead.cc), and listDir takes their results.

#pragma once

#include <napi.h>

#include <string>

#include "listing.h"

namespace blit {

// readAhead(paths: string[]): queue these directories for the background reader (in order).
Napi::Value ReadAhead(const Napi::CallbackInfo& info);

// readAheadTree(root: string): queue `root`, and the directories below it as they are found (depth
// first, bounded), for the readers: a walk about to start over the tree finds them listed.
Napi::Value ReadAheadTree(const Napi::CallbackInfo& info);

// readAheadState() -> { waiting, listed }: tests only, the listings to come and those not yet taken.
Napi::Value ReadAheadStatus(const Napi::CallbackInfo& info);

// dropReadAhead(): forgets every listing read ahead and not yet taken.
Napi::Value DropReadAhead(const Napi::CallbackInfo& info);

// Has a reader list `path` (first in line), waiting up to waitMs: false when it is not done by then.
bool ListingWithin(const std::string& path, int waitMs);

// The read-ahead result for path if there is one (waiting for it when in progress), else a fresh read.
Listed TakeListing(const std::string& path);

}  // namespace blit
