// Small files of a directory this session made (nothing in it to compare or replace), taken from a
// peer's manifest without an object per file: see fresh.cc (the table and the needs) and land.cc
// (freshLand, landing them from the table).

#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace blit {

// One file of the table: what the destination lands it with (its owner already mapped to ids here).
struct FreshFile {
  std::string name;
  uint64_t size = 0;
  int64_t mtimeNs = 0;  // as sent; sec and nsec as splitNs gives them
  int64_t sec = 0;
  int64_t nsec = 0;
  uint32_t mode = 0;
  bool owned = false;  // the source sent uid and gid (and the transfer gives owners)
  uint32_t uid = 0, gid = 0;
  bool xattrsRead = false;  // the source read its xattrs and found none: inherited ones are removed
};

struct FreshTable {
  std::string rel;  // the directory, relative to the transfer root
  std::vector<FreshFile> files;
  int keep = 0;          // xattr.h kKeep*: the kinds of xattrs kept
  uint32_t umask = 0;    // the process umask: a mode it strips is set again with fchmod
};

// setFreshIds(userNames: string[], userIds: Uint32Array, groupNames: string[], groupIds: Uint32Array):
// this machine's ids by name (fsops/id-map.ts idOf), which a sent owner's name maps to.
Napi::Value SetFreshIds(const Napi::CallbackInfo& info);

// freshFiles(entries: Uint8Array, rel: string, options: Float64Array [smallMax, stripSetId, numericIds,
// giveOwners, keep, umask, maxFiles]) -> undefined, or { table, count, bytes, sizes: Float64Array,
// rest: Uint8Array }. `entries`: a whole listing's ManifestBatch field-3 records, as received. The
// regular files of at most smallMax bytes with nothing more to them (no hard-link group, xattrs,
// ACL names or holes; a name that is UTF-8; fields as the generated decoder reads them, each once),
// the first maxFiles of them, go into `table`, in listing order; `rest` holds every other record,
// as received, for the JavaScript decoder.
// Undefined (nothing taken): no such file, a record that cannot be read, or a name listed twice.
Napi::Value FreshFiles(const Napi::CallbackInfo& info);

// freshNeeds(table, firstFileId: number, role: number) -> Buffer[]: TransferFrame messages, each a
// NeedBatch of the table's files in order (file i: firstFileId + i), as the generated encoder
// writes them.
Napi::Value FreshNeeds(const Napi::CallbackInfo& info);

// freshEntry(table, index) -> [name, size, mtimeSec, mtimeNsec, mode, uid, gid, owned, xattrsRead].
Napi::Value FreshEntry(const Napi::CallbackInfo& info);

// The table a `table` argument holds; throws a TypeError for anything else.
FreshTable& FreshTableArg(const Napi::Value& value);

// freshLand(table, dir: string, indices: Uint32Array, views: Uint8Array[], onDone): in land.cc.
Napi::Value FreshLand(const Napi::CallbackInfo& info);

}  // namespace blit
