// A directory listed straight into manifest entries: the bytes of the `ManifestEntry` messages
// (proto/blit.proto) a pushing client sends for it, without a JavaScript object per entry. Only
// subdirectories come back as listing arrays (the walk goes on through them); a directory this
// cannot say exactly as src/protocol/manifest-wire.ts would comes back whole, as listDir gives it.

#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "listing.h"

namespace blit {

// setIdNames(uids: Uint32Array, users: string[], gids: Uint32Array, groups: string[]): the names
// this machine gives its user and group ids (fsops/id-map.ts localIdNames), for the entries' owners.
Napi::Value SetIdNames(const Napi::CallbackInfo& info);

// listManifest(path, batchEntries, filterStatus, filterMet, waitMs?): see manifest.cc.
Napi::Value ListManifest(const Napi::CallbackInfo& info);

// sameAsManifest(path, entries, filterStatus, filterMet, refusedFileModes) -> undefined, or
//   { entries, fileSizes: Float64Array, dirs: string[] }: whether the directory at `path` (not
//   through a link in its place) holds exactly the entries a peer listed, `entries` being their
//   ManifestBatch field-3 records in any order: each of its own entries, encoded as listManifest
//   would with this filter verdict, is one of them and none is left over. Undefined too when it
//   cannot be read, holds an entry listManifest leaves to JavaScript, a temp name of blit's, or a
//   regular file with any of the mode bits `refusedFileModes`. The answer's counts and
//   subdirectories' names are its own.
Napi::Value SameAsManifest(const Napi::CallbackInfo& info);

// What sameAsManifest answers with, gathered where no JavaScript runs (the landing threads).
struct SameListing {
  size_t entries = 0;
  std::vector<double> fileSizes;
  std::vector<std::string> dirs;
};

// The peer's bytes as whole ManifestBatch field-3 records (views into `bytes`); false if malformed.
bool SplitRecords(const uint8_t* bytes, size_t size, std::vector<std::string_view>* records);

// Whether `listed` holds exactly the peer's records (sameAsManifest's rule), filling `same` if so.
// Reads the owners' names setIdNames gave, which are set before any comparison and not after.
bool SameAsRecords(const Listed& listed, std::vector<std::string_view> theirs, uint32_t filterStatus,
                   uint32_t filterMet, uint32_t refusedFileModes, SameListing* same);

Napi::Value SameListingValue(Napi::Env env, const SameListing& same);

}  // namespace blit
