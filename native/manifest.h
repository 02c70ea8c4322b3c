// A directory listed straight into manifest entries: the bytes of the `ManifestEntry` messages
// (proto/blit.proto) a pushing client sends for it, without a JavaScript object per entry. Only
// subdirectories come back as listing arrays (the walk goes on through them); a directory this
// cannot say exactly as src/protocol/manifest-wire.ts would comes back whole, as listDir gives it.

#pragma once

#include <napi.h>

namespace blit {

// setIdNames(uids: Uint32Array, users: string[], gids: Uint32Array, groups: string[]): the names
// this machine gives its user and group ids (fsops/id-map.ts localIdNames), for the entries' owners.
Napi::Value SetIdNames(const Napi::CallbackInfo& info);

// listManifest(path, batchEntries, filterStatus, filterMet, waitMs?): see manifest.cc.
Napi::Value ListManifest(const Napi::CallbackInfo& info);

}  // namespace blit
