// See fresh.h. A directory this session made holds nothing to compare with, so each small regular
// file its listing names is simply needed: the peer's records are read here into a table (no
// SourceEntry, plan entry, need or pending file per file on the JS thread), the needs are encoded
// here, and land.cc lands the files from the table. Anything unusual stays a record for the
// JavaScript decoder, which reads and checks it as before.

#include "fresh.h"

#include <cstring>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "common.h"
#include "xattr.h"

namespace blit {

namespace {

constexpr uint32_t kVarint = 0;
constexpr uint32_t kLength = 2;
// proto/blit.proto's numbers.
constexpr uint32_t kWireFile = 1;
constexpr uint64_t kFilterInclude = 1, kFilterTraverse = 2;
constexpr uint32_t kFrameNeedBatch = 7;
// protocol/manifest-wire.ts MAX_NAME_BYTES, fsops/id-map.ts MAX_ID_NAME_BYTES.
constexpr size_t kMaxNameBytes = 255;
constexpr size_t kMaxIdNameBytes = 256;
// Needs per frame (peer-data.ts NEEDS_PER_BATCH), and bytes: a frame stays far below the message limit.
constexpr size_t kNeedsPerFrame = 1024;
constexpr size_t kFrameBytes = 1 << 20;

// Set on the main thread (setFreshIds) before freshFiles reads them.
std::unordered_map<std::string, uint32_t> g_userIds;
std::unordered_map<std::string, uint32_t> g_groupIds;

struct Reader {
  const uint8_t* p;
  size_t n;
  size_t at = 0;

  bool Varint(uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64 && at < n; shift += 7) {
      uint8_t byte = p[at++];
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }
  bool Bytes(std::string_view& out) {
    uint64_t length;
    if (!Varint(length) || length > n - at) return false;
    out = std::string_view(reinterpret_cast<const char*>(p) + at, length);
    at += length;
    return true;
  }
};

bool Utf8(std::string_view s) { return IsValidUtf8(reinterpret_cast<const unsigned char*>(s.data()), s.size()); }

// fsops/id-map.ts isPeerIdName, on the bytes (valid UTF-8: the JavaScript string holds the same).
bool PeerIdName(std::string_view name) {
  if (name.size() > kMaxIdNameBytes || !Utf8(name)) return false;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == ':' || c == '/') return false;
  }
  return true;
}

// fsops/id-map.ts mappedId: the id here of `name`, else the one sent.
uint32_t MappedId(const std::unordered_map<std::string, uint32_t>& ids, std::string_view name, uint32_t sent) {
  if (name.empty()) return sent;
  auto found = ids.find(std::string(name));
  return found == ids.end() ? sent : found->second;
}

// What one record says, as far as this file reads it.
struct Parsed {
  std::string_view name;
  bool named = false;   // the entry and its name were read
  bool takeable = false;  // a small regular file with nothing more to it
  FreshFile file;
};

struct Options {
  uint64_t smallMax;
  bool stripSetId, numericIds, giveOwners;
};

// The Entry message of a record. False when it cannot be read as the generated decoder reads it
// alike (a field twice, a wire type it would refuse or read otherwise, a name that is not UTF-8):
// then the listing goes to the JavaScript decoder whole. `out.takeable` for a small plain file.
bool ParseEntry(std::string_view bytes, const Options& options, Parsed& out) {
  Reader r{reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
  uint32_t seen = 0;
  uint64_t kind = 0, size = 0, mtime = 0, mode = 0, uid = 0, gid = 0, allocated = 0, xattrsRead = 0;
  std::string_view user, group;
  bool plain = true;
  while (r.at < r.n) {
    uint64_t tag;
    // A tag past 32 bits: the generated decoder reads its low 32 (another field number than here).
    if (!r.Varint(tag) || tag > 0xFFFFFFFFu) return false;
    const uint64_t field = tag >> 3;
    const uint32_t wire = tag & 7;
    uint64_t number = 0;
    std::string_view text;
    if (wire == kVarint) {
      if (!r.Varint(number)) return false;
    } else if (wire == kLength) {
      if (!r.Bytes(text)) return false;
    } else {
      return false;
    }
    if (field == 0) return false;
    if (field > 16) {
      // ACL names (17, repeated) or a field this file does not know: the JavaScript decoder's.
      plain = false;
      continue;
    }
    const uint32_t bit = 1u << field;
    // Repeated: xattrs (12) only.
    if (field != 12) {
      if (seen & bit) return false;
      seen |= bit;
    }
    const bool length = field == 1 || field == 6 || field == 9 || field == 10 || field == 12;
    if (length != (wire == kLength)) return false;
    switch (field) {
      case 1:
        out.name = text;
        out.named = true;
        break;
      case 2:
        kind = number;
        break;
      case 3:
        size = number;
        break;
      case 4:
        mtime = number;
        break;
      case 5:
        mode = number;
        break;
      case 7:
        uid = number;
        break;
      case 8:
        gid = number;
        break;
      case 9:
        user = text;
        break;
      case 10:
        group = text;
        break;
      case 15:
        allocated = number;
        break;
      case 16:
        xattrsRead = number;
        break;
      default:
        // A link target, hard-link group, xattrs, a special type or device number: the JavaScript
        // decoder's.
        if (number != 0 || !text.empty() || field == 12) plain = false;
        break;
    }
  }
  if (!out.named || !Utf8(out.name)) return false;
  if (!plain || kind != kWireFile) return true;
  if (!IsName(std::string(out.name)) || out.name.size() > kMaxNameBytes) return true;
  if (size > options.smallMax || mode > 0xFFFFFFFFu || xattrsRead > 1) return true;
  // Holes (fewer bytes on disk than the size): the JavaScript path punches them.
  if (allocated > 0 && allocated < size) return true;
  const bool hasUid = (seen & (1u << 7)) != 0, hasGid = (seen & (1u << 8)) != 0;
  if (uid > 0xFFFFFFFFu || gid > 0xFFFFFFFFu || !PeerIdName(user) || !PeerIdName(group)) return true;
  FreshFile& file = out.file;
  file.name.assign(out.name);
  file.size = size;
  // int64 on the wire (two's complement in a varint); whole seconds and nanoseconds as splitNs gives.
  const int64_t ns = static_cast<int64_t>(mtime);
  file.mtimeNs = ns;
  file.sec = ns / 1000000000;
  file.nsec = ns % 1000000000;
  if (file.nsec < 0) {
    file.sec -= 1;
    file.nsec += 1000000000;
  }
  file.mode = static_cast<uint32_t>(mode) & 07777;
  if (options.stripSetId) file.mode &= ~06000u;
  if (options.giveOwners && hasUid && hasGid) {
    file.owned = true;
    const bool byName = !options.numericIds && (!user.empty() || !group.empty());
    file.uid = byName ? MappedId(g_userIds, user, static_cast<uint32_t>(uid)) : static_cast<uint32_t>(uid);
    file.gid = byName ? MappedId(g_groupIds, group, static_cast<uint32_t>(gid)) : static_cast<uint32_t>(gid);
  }
  file.xattrsRead = xattrsRead == 1;
  out.takeable = true;
  return true;
}

// A field-3 record (tag, length, ManifestEntry): its name and, for a small plain file, its table row.
bool ParseRecord(std::string_view record, const Options& options, Parsed& out) {
  Reader r{reinterpret_cast<const uint8_t*>(record.data()), record.size()};
  uint64_t tag;
  std::string_view manifestEntry;
  if (!r.Varint(tag) || tag != ((3 << 3) | kLength) || !r.Bytes(manifestEntry) || r.at != r.n) return false;
  Reader m{reinterpret_cast<const uint8_t*>(manifestEntry.data()), manifestEntry.size()};
  std::string_view entry;
  bool hasEntry = false, fieldsKnown = true;
  uint64_t status = 0, met = 0;
  uint32_t seen = 0;
  while (m.at < m.n) {
    uint64_t key;
    if (!m.Varint(key) || key > 0xFFFFFFFFu) return false;
    const uint64_t field = key >> 3;
    const uint32_t wire = key & 7;
    if (field >= 1 && field <= 3) {
      if (seen & (1u << field)) fieldsKnown = false;
      seen |= 1u << field;
    } else {
      fieldsKnown = false;
    }
    if (wire == kVarint) {
      uint64_t value;
      if (!m.Varint(value)) return false;
      if (field == 2) status = value;
      else if (field == 3) met = value;
      if (field == 1) fieldsKnown = false;
    } else if (wire == kLength) {
      std::string_view value;
      if (!m.Bytes(value)) return false;
      if (field == 1) {
        // Twice: the generated decoder merges the two, which this file does not.
        if (hasEntry) return false;
        entry = value;
        hasEntry = true;
      } else {
        fieldsKnown = false;
      }
    } else {
      // Groups or fixed-width fields: for the generated decoder to read or refuse.
      return false;
    }
  }
  if (!hasEntry || !ParseEntry(entry, options, out)) return false;
  if (!fieldsKnown || (status != kFilterInclude && status != kFilterTraverse) || met > 0xFFFFFFFFu)
    out.takeable = false;
  return true;
}

// A varint as Put writes it (manifest.cc), appended.
void AppendVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

size_t VarintSize(uint64_t value) {
  size_t n = 1;
  while (value >= 0x80) {
    value >>= 7;
    n++;
  }
  return n;
}

// One Need message (file_id 1, path 2, size 6, mtime_ns 7; proto3 leaves out zeros).
void AppendNeed(std::string& out, uint64_t fileId, const std::string& rel, const FreshFile& file) {
  const size_t pathBytes = rel.empty() ? file.name.size() : rel.size() + 1 + file.name.size();
  const int64_t ns = file.mtimeNs;
  size_t body = 1 + VarintSize(fileId) + 1 + VarintSize(pathBytes) + pathBytes;
  if (file.size != 0) body += 1 + VarintSize(file.size);
  if (ns != 0) body += 1 + VarintSize(static_cast<uint64_t>(ns));
  out.push_back(static_cast<char>((1 << 3) | kLength));  // NeedBatch.needs
  AppendVarint(out, body);
  out.push_back(static_cast<char>((1 << 3) | kVarint));
  AppendVarint(out, fileId);
  out.push_back(static_cast<char>((2 << 3) | kLength));
  AppendVarint(out, pathBytes);
  if (!rel.empty()) {
    out.append(rel);
    out.push_back('/');
  }
  out.append(file.name);
  if (file.size != 0) {
    out.push_back(static_cast<char>((6 << 3) | kVarint));
    AppendVarint(out, file.size);
  }
  if (ns != 0) {
    out.push_back(static_cast<char>((7 << 3) | kVarint));
    AppendVarint(out, static_cast<uint64_t>(ns));
  }
}

// The TransferFrame around a NeedBatch's needs (role 1, need_batch 7).
Napi::Buffer<char> FrameOf(Napi::Env env, uint32_t role, const std::string& needs) {
  std::string frame;
  frame.reserve(needs.size() + 16);
  if (role != 0) {
    frame.push_back(static_cast<char>((1 << 3) | kVarint));
    AppendVarint(frame, role);
  }
  frame.push_back(static_cast<char>((kFrameNeedBatch << 3) | kLength));
  AppendVarint(frame, needs.size());
  frame.append(needs);
  return Napi::Buffer<char>::Copy(env, frame.data(), frame.size());
}

void ReadIdsOfNames(const Napi::Value& names, const Napi::Value& ids, std::unordered_map<std::string, uint32_t>& into) {
  if (!names.IsArray() || !ids.IsTypedArray()) throw Napi::TypeError::New(names.Env(), "setFreshIds: names and ids");
  auto strings = names.As<Napi::Array>();
  auto numbers = ids.As<Napi::Uint32Array>();
  if (strings.Length() != numbers.ElementLength())
    throw Napi::TypeError::New(names.Env(), "setFreshIds: lengths differ");
  into.clear();
  for (uint32_t i = 0; i < strings.Length(); i++) into[strings.Get(i).As<Napi::String>().Utf8Value()] = numbers[i];
}

}  // namespace

FreshTable& FreshTableArg(const Napi::Value& value) {
  if (!value.IsExternal()) throw Napi::TypeError::New(value.Env(), "fresh files: not a table");
  return *value.As<Napi::External<FreshTable>>().Data();
}

Napi::Value SetFreshIds(const Napi::CallbackInfo& info) {
  ReadIdsOfNames(info[0], info[1], g_userIds);
  ReadIdsOfNames(info[2], info[3], g_groupIds);
  return info.Env().Undefined();
}

Napi::Value FreshFiles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
      !info[1].IsString() || !info[2].IsTypedArray() ||
      info[2].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[2].As<Napi::Float64Array>().ElementLength() != 7) {
    throw Napi::TypeError::New(env, "freshFiles(entries: Uint8Array, rel: string, options: Float64Array(7))");
  }
  auto bytes = info[0].As<Napi::Uint8Array>();
  auto opts = info[2].As<Napi::Float64Array>();
  const Options options{static_cast<uint64_t>(opts[0]), opts[1] != 0, opts[2] != 0, opts[3] != 0};
  auto table = std::make_unique<FreshTable>();
  table->rel = info[1].As<Napi::String>().Utf8Value();
  table->keep = static_cast<int>(opts[4]) & kKeepBoth;
  table->umask = static_cast<uint32_t>(opts[5]);
  const size_t maxFiles = static_cast<size_t>(opts[6]);
  std::string rest;
  std::unordered_set<std::string_view> names;
  double total = 0;
  const uint8_t* p = bytes.Data();
  const size_t n = bytes.ByteLength();
  for (size_t at = 0; at < n;) {
    // One record: its tag and length, then the ManifestEntry.
    Reader r{p, n, at};
    uint64_t tag;
    std::string_view inner;
    if (!r.Varint(tag) || !r.Bytes(inner)) return env.Undefined();
    std::string_view record(reinterpret_cast<const char*>(p) + at, r.at - at);
    at = r.at;
    Parsed parsed;
    if (!ParseRecord(record, options, parsed)) return env.Undefined();
    // Listed twice: the JavaScript decoder refuses the listing (remote-source.ts takeEntries).
    if (!names.insert(parsed.name).second) return env.Undefined();
    if (parsed.takeable && table->files.size() < maxFiles) {
      total += static_cast<double>(parsed.file.size);
      table->files.push_back(std::move(parsed.file));
    } else {
      rest.append(record);
    }
  }
  if (table->files.empty()) return env.Undefined();
  Napi::Object result = Napi::Object::New(env);
  result.Set("count", Napi::Number::New(env, static_cast<double>(table->files.size())));
  result.Set("bytes", Napi::Number::New(env, total));
  result.Set("rest", Napi::Buffer<char>::Copy(env, rest.data(), rest.size()));
  auto sizes = Napi::Float64Array::New(env, table->files.size());
  for (size_t i = 0; i < table->files.size(); i++) sizes[i] = static_cast<double>(table->files[i].size);
  result.Set("sizes", sizes);
  result.Set("table", Napi::External<FreshTable>::New(env, table.release(), [](Napi::Env, FreshTable* t) { delete t; }));
  return result;
}

Napi::Value FreshNeeds(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  FreshTable& table = FreshTableArg(info[0]);
  const double first = info[1].As<Napi::Number>().DoubleValue();
  if (!(first >= 1 && first + static_cast<double>(table.files.size()) <= 9007199254740991.0))
    throw Napi::TypeError::New(env, "freshNeeds: the first file id is out of range");
  const uint32_t role = info[2].As<Napi::Number>().Uint32Value();
  Napi::Array frames = Napi::Array::New(env);
  std::string needs;
  size_t inFrame = 0;
  for (size_t i = 0; i < table.files.size(); i++) {
    AppendNeed(needs, static_cast<uint64_t>(first) + i, table.rel, table.files[i]);
    if (++inFrame == kNeedsPerFrame || needs.size() >= kFrameBytes) {
      frames.Set(frames.Length(), FrameOf(env, role, needs));
      needs.clear();
      inFrame = 0;
    }
  }
  if (inFrame > 0) frames.Set(frames.Length(), FrameOf(env, role, needs));
  return frames;
}

Napi::Value FreshEntry(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  FreshTable& table = FreshTableArg(info[0]);
  const uint32_t index = info[1].As<Napi::Number>().Uint32Value();
  if (index >= table.files.size()) throw Napi::RangeError::New(env, "freshEntry: no such file");
  const FreshFile& file = table.files[index];
  Napi::Array out = Napi::Array::New(env, 9);
  out.Set(0u, Napi::String::New(env, file.name));
  out.Set(1u, Napi::Number::New(env, static_cast<double>(file.size)));
  out.Set(2u, Napi::Number::New(env, static_cast<double>(file.sec)));
  out.Set(3u, Napi::Number::New(env, static_cast<double>(file.nsec)));
  out.Set(4u, Napi::Number::New(env, file.mode));
  out.Set(5u, Napi::Number::New(env, file.uid));
  out.Set(6u, Napi::Number::New(env, file.gid));
  out.Set(7u, Napi::Boolean::New(env, file.owned));
  out.Set(8u, Napi::Boolean::New(env, file.xattrsRead));
  return out;
}

}  // namespace blit
