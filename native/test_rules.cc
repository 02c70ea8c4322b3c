// The rules the addon shares with the TypeScript side, callable one case at a time, so that
// test/unit/native-rules.test.ts runs one table of cases through both and a change to either one
// alone fails it.

#include "test_rules.h"

#include <cstdint>
#include <string>
#include <vector>

#include "common.h"
#include "copy.h"
#include "listing.h"
#include "watchdog.h"
#include "whole_dir.h"

namespace blit {

namespace {

// An entry as the tests give it: { kind, size?, mtimeNs?: bigint, mode?, name?, link?, uid?, gid?, fileType?,
// rdev?: bigint, xattrs? }.
ListedItem ItemArg(const Napi::Value& value) {
  auto object = value.As<Napi::Object>();
  ListedItem item{{}, kFile, 0, 0, 0, 0, 0, false, {}};
  item.kind = static_cast<uint8_t>(object.Get("kind").As<Napi::Number>().Uint32Value());
  if (object.Has("size")) item.size = object.Get("size").As<Napi::Number>().DoubleValue();
  if (object.Has("mode")) item.mode = object.Get("mode").As<Napi::Number>().Uint32Value();
  if (object.Has("mtimeNs")) {
    bool lossless = false;
    int64_t ns = object.Get("mtimeNs").As<Napi::BigInt>().Int64Value(&lossless);
    // As GatherDir splits an mtime: whole seconds (rounded down) and nanoseconds.
    int64_t sec = ns >= 0 ? ns / 1000000000LL : -((-ns + 999999999LL) / 1000000000LL);
    item.sec = static_cast<double>(sec);
    item.nsec = static_cast<uint32_t>(ns - sec * 1000000000LL);
  }
  if (object.Has("uid")) item.uid = object.Get("uid").As<Napi::Number>().Uint32Value();
  if (object.Has("gid")) item.gid = object.Get("gid").As<Napi::Number>().Uint32Value();
  if (object.Has("xattrs") && object.Get("xattrs").IsArray()) {
    item.xattrs = ParseXattrs(object.Get("xattrs"));
    item.xattrsRead = true;
  }
  if (object.Has("name")) item.name = PathArg(object.Get("name"));
  if (object.Has("fileType")) item.fileType = object.Get("fileType").As<Napi::Number>().Uint32Value();
  if (object.Has("rdev")) {
    bool lossless = false;
    item.rdev = object.Get("rdev").As<Napi::BigInt>().Uint64Value(&lossless);
  }
  if (object.Has("link") && !object.Get("link").IsUndefined()) {
    item.hasLink = true;
    item.link = PathArg(object.Get("link"));
  }
  return item;
}

}  // namespace

Napi::Object TestRules(Napi::Env env) {
  Napi::Object rules = Napi::Object::New(env);
  // decide(source, dest, compare, owners?, keepXattrs?) -> 'transfer' | 'skip' | 'update' | 'hash' | 'conflict'
  rules.Set("decide", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    bool owners = info.Length() > 3 && info[3].ToBoolean();
    int keep = info.Length() > 4 && info[4].IsNumber() ? info[4].As<Napi::Number>().Int32Value() : kKeepBoth;
    Decision decision =
        Decide(info[2].As<Napi::Number>().Int32Value(), ItemArg(info[0]), ItemArg(info[1]), owners, keep);
    return Napi::String::New(info.Env(), kDecisionNames[decision]);
  }));
  rules.Set("isTempName", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), IsTempName(PathArg(info[0])));
  }));
  rules.Set("needsChmod", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), NeedsChmod(info[0].As<Napi::Number>().Uint32Value(),
                                                     info[1].As<Napi::Number>().Uint32Value()));
  }));
  // excluded(patterns: string[] (as engine/filter.ts namePattern gives them), entry) -> boolean
  rules.Set("excluded", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    Napi::Array patterns = info[0].As<Napi::Array>();
    std::vector<NamePattern> excludes;
    for (uint32_t i = 0; i < patterns.Length(); i++) excludes.push_back(ParseNamePattern(PathArg(patterns.Get(i))));
    return Napi::Boolean::New(info.Env(), Excluded(excludes, ItemArg(info[1])));
  }));
  rules.Set("isUtf8", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    auto bytes = info[0].As<Napi::Buffer<unsigned char>>();
    return Napi::Boolean::New(info.Env(), IsValidUtf8(bytes.Data(), bytes.Length()));
  }));
  // stallMessage(slots: Uint8Array (the activity board's), timeoutMs) -> string
  rules.Set("stallMessage", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    auto slots = info[0].As<Napi::Uint8Array>();
    return Napi::String::New(info.Env(), StallMessage(slots.Data(), slots.ByteLength(),
                                                       info[1].As<Napi::Number>().Int32Value()));
  }));
  rules.Freeze();
  return rules;
}

}  // namespace blit
