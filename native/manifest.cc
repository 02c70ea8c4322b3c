// See manifest.h.
//
// listManifest(path, batchEntries, filterStatus, filterMet, waitMs?) ->
//   undefined: not listed within waitMs (the listing goes on; call again without it, as listDir);
//   { chunks: Buffer[], entries, fileSizes: Float64Array, dirs }: the directory's entries as
//     ManifestBatch field 3 (repeated ManifestEntry), at most batchEntries per chunk (one chunk,
//     maybe empty, at least), in listing order, each with the filter verdict given; `dirs` holds
//     listDir's arrays for the subdirectories alone, `fileSizes` the size of every regular file;
//   { listing }: listDir's arrays for the whole directory, when an entry needs what only the
//     JavaScript side does: a name or link target that is not UTF-8, an entry that could not be
//     read, a file with other names (hard-link groups), an ACL (the names of the ids it holds).
// Throws as listDir does when the directory itself cannot be read.

#include "manifest.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common.h"
#include "copy.h"
#include "listing.h"
#include "read_ahead.h"
#include "xattr.h"

namespace blit {

namespace {

// Set on the main thread (setIdNames, once per process: protocol/native-manifest.ts giveNames) before
// anything reads them: listManifest there, sameAsManifestLater's comparisons on the landing threads.
std::unordered_map<uint32_t, std::string> g_userNames;
std::unordered_map<uint32_t, std::string> g_groupNames;

// proto/blit.proto's numbers.
enum WireKind : uint32_t { kWireFile = 1, kWireDirectory = 2, kWireSymlink = 3, kWireOther = 4 };
enum WireSpecial : uint32_t { kWireFifo = 1, kWireChar = 2, kWireBlock = 3, kWireSocket = 4 };
constexpr uint32_t kVarint = 0;
constexpr uint32_t kLength = 2;

void Varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void Tag(std::string& out, uint32_t field, uint32_t wireType) { Varint(out, (field << 3) | wireType); }

// A scalar field: proto3 leaves out zero (`always`: an optional field, sent whatever its value).
void Number(std::string& out, uint32_t field, uint64_t value, bool always = false) {
  if (value == 0 && !always) return;
  Tag(out, field, kVarint);
  Varint(out, value);
}

void Bytes(std::string& out, uint32_t field, const std::string& value) {
  if (value.empty()) return;
  Tag(out, field, kLength);
  Varint(out, value.size());
  out.append(value);
}

void Message(std::string& out, uint32_t field, const std::string& body) {
  Tag(out, field, kLength);
  Varint(out, body.size());
  out.append(body);
}

bool Utf8(const std::string& s) { return IsValidUtf8(reinterpret_cast<const unsigned char*>(s.data()), s.size()); }

const std::string& NameOf(const std::unordered_map<uint32_t, std::string>& names, uint32_t id) {
  static const std::string none;
  auto found = names.find(id);
  return found == names.end() ? none : found->second;
}

// Whether protocol/manifest-wire.ts would say more of this entry than this file does.
bool NeedsJs(const ListedItem& item) {
  if (item.kind == kError || !Utf8(item.name)) return true;
  if (item.kind == kSymlink && (!item.hasLink || !Utf8(item.link))) return true;
  if (item.kind == kFile && item.nlink > 1) return true;
  if (!item.xattrsRead) return false;
  for (const Xattr& xattr : item.xattrs) {
    if (ClassifyXattr(xattr.name, false) == kXattrAcl || !Utf8(xattr.name)) return true;
  }
  return false;
}

uint32_t WireKindOf(const ListedItem& item) {
  switch (item.kind) {
    case kFile:
      return kWireFile;
    case kDir:
      return kWireDirectory;
    case kSymlink:
      return kWireSymlink;
    default:
      return kWireOther;
  }
}

uint32_t WireSpecialOf(uint32_t fileType) {
  switch (fileType) {
    case S_IFIFO:
      return kWireFifo;
    case S_IFCHR:
      return kWireChar;
    case S_IFBLK:
      return kWireBlock;
    case S_IFSOCK:
      return kWireSocket;
    default:
      return 0;
  }
}

// The Entry message, field by field as protocol/wire-entry.ts toWireEntry and manifest-wire.ts
// withOwner fill it (link_group 0: no file here has other names; acl_names none: no ACL here).
void EncodeEntry(std::string& out, const ListedItem& item) {
  Bytes(out, 1, item.name);
  Number(out, 2, WireKindOf(item));
  // A size for regular files only (manifest-wire.ts toManifestEntry says why).
  if (item.kind == kFile) Number(out, 3, static_cast<uint64_t>(item.size));
  Number(out, 4, static_cast<uint64_t>(MtimeNs(item)));
  Number(out, 5, item.mode);
  if (item.kind == kSymlink) Bytes(out, 6, item.link);
  Number(out, 7, item.uid, true);
  Number(out, 8, item.gid, true);
  Bytes(out, 9, NameOf(g_userNames, item.uid));
  Bytes(out, 10, NameOf(g_groupNames, item.gid));
  // Only a list read whole: a read that failed part way (the file gone between two calls) may
  // have left some, which the JavaScript side drops too (xattrs_read false, none sent).
  if (item.xattrsRead) {
    std::string xattr;
    for (const Xattr& each : item.xattrs) {
      xattr.clear();
      Bytes(xattr, 1, each.name);
      Bytes(xattr, 2, each.value);
      Message(out, 12, xattr);
    }
  }
  if (item.kind == kOther) {
    uint32_t special = WireSpecialOf(item.fileType);
    Number(out, 13, special);
    if (special == kWireChar || special == kWireBlock) Number(out, 14, item.rdev);
  }
  if (item.kind == kFile) {
    // Bytes on disk, where 0 would mean "not known": a file all hole goes as 1.
    double allocated = std::max(1.0, std::min(item.allocated, item.size));
    Number(out, 15, static_cast<uint64_t>(allocated));
  }
  Number(out, 16, item.xattrsRead ? 1 : 0);
}

// The ManifestBatch field-3 record (tag, length, ManifestEntry) listManifest sends for `item`.
void EncodeRecord(std::string& out, std::string& entry, std::string& manifestEntry, const ListedItem& item,
                  uint32_t filterStatus, uint32_t filterMet) {
  entry.clear();
  EncodeEntry(entry, item);
  manifestEntry.clear();
  Message(manifestEntry, 1, entry);
  Number(manifestEntry, 2, filterStatus);
  Number(manifestEntry, 3, filterMet);
  Message(out, 3, manifestEntry);
}

// A varint of the peer's bytes at `at` (moved past it); false when it runs off the end or past 64 bits.
bool ReadVarint(const uint8_t* bytes, size_t size, size_t& at, uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 64 && at < size; shift += 7) {
    uint8_t byte = bytes[at++];
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

void ReadIds(const Napi::Value& ids, const Napi::Value& names, std::unordered_map<uint32_t, std::string>& into) {
  auto numbers = ids.As<Napi::Uint32Array>();
  auto strings = names.As<Napi::Array>();
  if (strings.Length() != numbers.ElementLength()) throw Napi::TypeError::New(ids.Env(), "setIdNames: lengths differ");
  into.clear();
  for (size_t i = 0; i < numbers.ElementLength(); i++) {
    into[numbers[i]] = strings.Get(static_cast<uint32_t>(i)).As<Napi::String>().Utf8Value();
  }
}

}  // namespace

Napi::Value SetIdNames(const Napi::CallbackInfo& info) {
  ReadIds(info[0], info[1], g_userNames);
  ReadIds(info[2], info[3], g_groupNames);
  return info.Env().Undefined();
}

Napi::Value ListManifest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = PathArg(info[0]);
  const size_t batchEntries = std::max<int64_t>(1, info[1].As<Napi::Number>().Int64Value());
  const uint32_t filterStatus = info[2].As<Napi::Number>().Uint32Value();
  const uint32_t filterMet = info[3].As<Napi::Number>().Uint32Value();
  if (info.Length() > 4 && info[4].IsNumber() && !ListingWithin(path, info[4].As<Napi::Number>().Int32Value()))
    return env.Undefined();
  Listed listed = TakeListing(path);
  if (listed.err != 0) throw ErrnoError(env, listed.err, "scandir", path);
  const std::vector<ListedItem>& items = listed.items;
  Napi::Object result = Napi::Object::New(env);
  if (std::any_of(items.begin(), items.end(), NeedsJs)) {
    result.Set("listing", ListedArrays(env, items, nullptr));
    return result;
  }
  Napi::Array chunks = Napi::Array::New(env);
  std::vector<size_t> dirs;
  std::vector<double> fileSizes;
  std::string chunk, entry, manifestEntry;
  size_t inChunk = 0;
  for (size_t i = 0; i < items.size(); i++) {
    const ListedItem& item = items[i];
    if (item.kind == kDir) dirs.push_back(i);
    if (item.kind == kFile) fileSizes.push_back(item.size);
    EncodeRecord(chunk, entry, manifestEntry, item, filterStatus, filterMet);
    if (++inChunk == batchEntries) {
      chunks.Set(chunks.Length(), Napi::Buffer<char>::Copy(env, chunk.data(), chunk.size()));
      chunk.clear();
      inChunk = 0;
    }
  }
  if (inChunk > 0 || chunks.Length() == 0)
    chunks.Set(chunks.Length(), Napi::Buffer<char>::Copy(env, chunk.data(), chunk.size()));
  auto sizes = Napi::Float64Array::New(env, fileSizes.size());
  std::copy(fileSizes.begin(), fileSizes.end(), sizes.Data());
  result.Set("chunks", chunks);
  result.Set("entries", Napi::Number::New(env, static_cast<double>(items.size())));
  result.Set("fileSizes", sizes);
  result.Set("dirs", ListedArrays(env, items, &dirs));
  return result;
}

bool SplitRecords(const uint8_t* bytes, size_t size, std::vector<std::string_view>* records) {
  for (size_t at = 0; at < size;) {
    const size_t start = at;
    uint64_t tag, length;
    if (!ReadVarint(bytes, size, at, tag) || tag != ((3 << 3) | kLength) || !ReadVarint(bytes, size, at, length) ||
        length > size - at) {
      return false;
    }
    at += length;
    records->emplace_back(reinterpret_cast<const char*>(bytes) + start, at - start);
  }
  return true;
}

bool SameAsRecords(const Listed& listed, std::vector<std::string_view> theirs, uint32_t filterStatus,
                   uint32_t filterMet, uint32_t refusedFileModes, SameListing* same) {
  const std::vector<ListedItem>& items = listed.items;
  if (listed.err != 0 || items.size() != theirs.size()) return false;
  // This side's records, as listManifest would send them. A temp name is left to the walk, which
  // removes a stale one.
  std::vector<std::string> records(items.size());
  std::vector<std::string_view> mine(items.size());
  std::string entry, manifestEntry;
  for (size_t i = 0; i < items.size(); i++) {
    const ListedItem& item = items[i];
    if (NeedsJs(item) || IsTempName(item.name) || (item.kind == kFile && (item.mode & refusedFileModes) != 0))
      return false;
    EncodeRecord(records[i], entry, manifestEntry, item, filterStatus, filterMet);
    mine[i] = records[i];
  }
  // Equal as sorted lists: every record of one side is one of the other's, each once. (Sorted, not
  // hashed: the peer picks the bytes, and a fixed-seed hash could be made to collide.)
  std::sort(theirs.begin(), theirs.end());
  std::sort(mine.begin(), mine.end());
  if (theirs != mine) return false;
  same->entries = items.size();
  for (const ListedItem& item : items) {
    if (item.kind == kFile) same->fileSizes.push_back(item.size);
    if (item.kind == kDir) same->dirs.push_back(item.name);
  }
  return true;
}

Napi::Value SameListingValue(Napi::Env env, const SameListing& same) {
  auto sizes = Napi::Float64Array::New(env, same.fileSizes.size());
  std::copy(same.fileSizes.begin(), same.fileSizes.end(), sizes.Data());
  Napi::Array dirs = Napi::Array::New(env, same.dirs.size());
  for (size_t i = 0; i < same.dirs.size(); i++) dirs.Set(static_cast<uint32_t>(i), Napi::String::New(env, same.dirs[i]));
  Napi::Object result = Napi::Object::New(env);
  result.Set("entries", Napi::Number::New(env, static_cast<double>(same.entries)));
  result.Set("fileSizes", sizes);
  result.Set("dirs", dirs);
  return result;
}

Napi::Value SameAsManifest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(env, "sameAsManifest: entries must be a Uint8Array");
  std::string path = PathArg(info[0]);
  auto peer = info[1].As<Napi::Uint8Array>();
  const uint32_t filterStatus = info[2].As<Napi::Number>().Uint32Value();
  const uint32_t filterMet = info[3].As<Napi::Number>().Uint32Value();
  const uint32_t refusedFileModes = info[4].As<Napi::Number>().Uint32Value();
  std::vector<std::string_view> theirs;
  if (!SplitRecords(peer.Data(), peer.ByteLength(), &theirs)) return env.Undefined();
  // Never through a link in the directory's place; one that cannot be read is left to the walk,
  // which says why.
  Listed listed = GatherDir(path, true);
  SameListing same;
  if (!SameAsRecords(listed, std::move(theirs), filterStatus, filterMet, refusedFileModes, &same))
    return env.Undefined();
  return SameListingValue(env, same);
}

}  // namespace blit
