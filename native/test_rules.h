// Tests only: the rules the addon shares with the TypeScript side, one case at a time (see
// test_rules.cc).

#pragma once

#include <napi.h>

namespace blit {

// testRules: { decide, isTempName, needsChmod, excluded, isUtf8, stallMessage }, frozen.
Napi::Object TestRules(Napi::Env env);

}  // namespace blit
