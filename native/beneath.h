// Containment primitives (beneath.cc): file access beneath a root through directory descriptors.
#pragma once

#include <napi.h>

#include <string>

namespace blit_beneath {

// The file `rel` below the directory `rootFd` (real path `rootPath`, for absolute links that lead
// back inside; '' refuses them) opened for reading as the JavaScript side's openFileAt opens it:
// links on the way followed only while they stay beneath, a last link never, a FIFO never blocking.
// `walk`: never openat2 (BLIT_NO_OPENAT2, as beneath.open's WALK). A descriptor, or -errno. On any
// thread.
int OpenForReadBeneath(int rootFd, const std::string& rootPath, const std::string& rel, bool walk);

// Adds the `beneath` object (see src/fsops/native.ts, NativeBeneath) to the addon's exports.
void Register(Napi::Env env, Napi::Object exports);

}  // namespace blit_beneath
