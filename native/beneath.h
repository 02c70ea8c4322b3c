// Containment primitives (beneath.cc): file access beneath a root through directory descriptors.
#pragma once

#include <napi.h>

namespace blit_beneath {

// Adds the `beneath` object (see src/fsops/native.ts, NativeBeneath) to the addon's exports.
void Register(Napi::Env env, Napi::Object exports);

}  // namespace blit_beneath
