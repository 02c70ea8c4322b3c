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
#include <cstring>
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

// Protobuf fields written through a pointer into room made beforehand (EntryBound): appended to a
// std::string one push_back at a time, varints were a tenth of a daemon's instructions when it
// compared a nothing-changed tree with its own (callgrind, docs/DECISIONS.md).
struct Put {
  char* at;

  void Varint(uint64_t value) {
    while (value >= 0x80) {
      *at++ = static_cast<char>((value & 0x7f) | 0x80);
      value >>= 7;
    }
    *at++ = static_cast<char>(value);
  }
  void Tag(uint32_t field, uint32_t wireType) { Varint((field << 3) | wireType); }
  // A scalar field: proto3 leaves out zero (`always`: an optional field, sent whatever its value).
  void Number(uint32_t field, uint64_t value, bool always = false) {
    if (value == 0 && !always) return;
    Tag(field, kVarint);
    Varint(value);
  }
  // A length-delimited field; `always`: even when empty (a message).
  void Bytes(uint32_t field, std::string_view value, bool always = false) {
    if (value.empty() && !always) return;
    Tag(field, kLength);
    Varint(value.size());
    std::memcpy(at, value.data(), value.size());
    at += value.size();
  }
};

// How many bytes Put::Varint writes for `value`.
size_t VarintSize(uint64_t value) {
  size_t n = 1;
  while (value >= 0x80) {
    value >>= 7;
    n++;
  }
  return n;
}

// What Put writes for a length-delimited field (Bytes) of `size` bytes, and for a scalar (Number),
// with a one-byte tag: nothing for an empty or zero one.
size_t BytesFieldSize(size_t size) { return size == 0 ? 0 : 1 + VarintSize(size) + size; }
size_t NumberFieldSize(uint64_t value) { return value == 0 ? 0 : 1 + VarintSize(value); }

// The most a field's tag and varint take (a tag of a field below 2048 fits two bytes).
constexpr size_t kFieldMax = 2 + 10;

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

// The most EncodeEntry writes for `item`: every field at its longest.
size_t EntryBound(const ListedItem& item, const std::string& user, const std::string& group) {
  size_t bound = 16 * kFieldMax + item.name.size() + item.link.size() + user.size() + group.size();
  for (const Xattr& each : item.xattrs) bound += 3 * kFieldMax + each.name.size() + each.value.size();
  return bound;
}

// The Entry message, field by field as protocol/wire-entry.ts toWireEntry and manifest-wire.ts
// withOwner fill it (link_group 0: no file here has other names; acl_names none: no ACL here).
char* EncodeEntry(char* at, const ListedItem& item, const std::string& user, const std::string& group) {
  Put out{at};
  out.Bytes(1, item.name);
  out.Number(2, WireKindOf(item));
  // A size for regular files only (manifest-wire.ts toManifestEntry says why).
  if (item.kind == kFile) out.Number(3, static_cast<uint64_t>(item.size));
  out.Number(4, static_cast<uint64_t>(MtimeNs(item)));
  out.Number(5, item.mode);
  if (item.kind == kSymlink) out.Bytes(6, item.link);
  out.Number(7, item.uid, true);
  out.Number(8, item.gid, true);
  out.Bytes(9, user);
  out.Bytes(10, group);
  // Only a list read whole: a read that failed part way (the file gone between two calls) may
  // have left some, which the JavaScript side drops too (xattrs_read false, none sent).
  if (item.xattrsRead) {
    for (const Xattr& each : item.xattrs) {
      const size_t inner = BytesFieldSize(each.name.size()) + BytesFieldSize(each.value.size());
      out.Tag(12, kLength);
      out.Varint(inner);
      out.Bytes(1, each.name);
      out.Bytes(2, std::string_view(each.value.data(), each.value.size()));
    }
  }
  if (item.kind == kOther) {
    uint32_t special = WireSpecialOf(item.fileType);
    out.Number(13, special);
    if (special == kWireChar || special == kWireBlock) out.Number(14, item.rdev);
  }
  if (item.kind == kFile) {
    // Bytes on disk, where 0 would mean "not known": a file all hole goes as 1.
    double allocated = std::max(1.0, std::min(item.allocated, item.size));
    out.Number(15, static_cast<uint64_t>(allocated));
  }
  out.Number(16, item.xattrsRead ? 1 : 0);
  return out.at;
}

// The ManifestBatch field-3 record (tag, length, ManifestEntry) listManifest sends for `item`,
// appended to `out` (`entry`: scratch for the Entry message).
void EncodeRecord(std::string& out, std::string& entry, const ListedItem& item, uint32_t filterStatus,
                  uint32_t filterMet) {
  const std::string& user = NameOf(g_userNames, item.uid);
  const std::string& group = NameOf(g_groupNames, item.gid);
  entry.resize(EntryBound(item, user, group));
  const size_t entrySize = EncodeEntry(entry.data(), item, user, group) - entry.data();
  const size_t manifestEntry =
      BytesFieldSize(entrySize) + NumberFieldSize(filterStatus) + NumberFieldSize(filterMet);
  const size_t start = out.size();
  out.resize(start + 1 + VarintSize(manifestEntry) + manifestEntry);
  Put record{out.data() + start};
  record.Tag(3, kLength);
  record.Varint(manifestEntry);
  record.Bytes(1, std::string_view(entry.data(), entrySize), true);
  record.Number(2, filterStatus);
  record.Number(3, filterMet);
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
  std::string chunk, entry;
  size_t inChunk = 0;
  for (size_t i = 0; i < items.size(); i++) {
    const ListedItem& item = items[i];
    if (item.kind == kDir) dirs.push_back(i);
    if (item.kind == kFile) fileSizes.push_back(item.size);
    EncodeRecord(chunk, entry, item, filterStatus, filterMet);
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
  // All in one string (one allocation, not one per entry), each record's end kept.
  std::string records, entry;
  std::vector<size_t> ends(items.size());
  for (size_t i = 0; i < items.size(); i++) {
    const ListedItem& item = items[i];
    if (NeedsJs(item) || IsTempName(item.name) || (item.kind == kFile && (item.mode & refusedFileModes) != 0))
      return false;
    EncodeRecord(records, entry, item, filterStatus, filterMet);
    ends[i] = records.size();
  }
  std::vector<std::string_view> mine(items.size());
  for (size_t i = 0, start = 0; i < items.size(); start = ends[i++]) mine[i] = std::string_view(records).substr(start, ends[i] - start);
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
