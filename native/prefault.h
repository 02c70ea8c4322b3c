// V8's heap pages made present in one step as V8 commits them, instead of one page fault per 4 KiB.

#pragma once

#include <napi.h>

namespace blit {

// Routes the process's imports of mprotect through PrefaultingMprotect (see prefault.cc), once per
// process; where it cannot, or with BLIT_NO_PREFAULT=1, routes none.
void InstallPrefault();

// prefaultState() → { sites, bytes }: call sites routed, bytes made present so far (tests only).
Napi::Value PrefaultState(const Napi::CallbackInfo& info);

}  // namespace blit
