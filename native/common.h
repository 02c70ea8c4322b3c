// Helpers every part of the addon uses: Node-style errors from errno values, path and name
// arguments (strings, or Buffers for names that are not UTF-8), optional typed-array arguments.

#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace blit {

// errno's symbolic name ("EACCES"), as Node's fs errors carry it in `code`; "EUNKNOWN" for others.
const char* ErrnoCode(int err);

// An error like Node's fs errors (code, errno, syscall, path), so JavaScript treats both alike.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& path);

// A path argument: a string, or a Buffer holding its bytes.
std::string PathArg(const Napi::Value& value);

bool IsValidUtf8(const unsigned char* s, size_t n);

// A single entry's name: not empty, not . or .., no '/' (which would be resolved, following links
// on the way) and no NUL (which would cut it short).
bool IsName(const std::string& name);

// Whether the environment variable `name` is set to exactly "1" (the addon's switches and test hooks).
bool EnvIsOne(const char* name);

// A name for JavaScript: a string when it is valid UTF-8, else a Buffer of its bytes.
Napi::Value NameValue(Napi::Env env, const char* s, size_t n);

// Argument `index` when it is a non-empty Int32Array, else none.
int32_t* OptionalInt32s(const Napi::CallbackInfo& info, size_t index);

// Element `element` of the BigInt64Array argument `index`, if there is one.
int64_t* OptionalInt64s(const Napi::CallbackInfo& info, size_t index, size_t element = 0);

// errnoName(errno) -> its code, as ErrnoCode.
Napi::Value ErrnoName(const Napi::CallbackInfo& info);

}  // namespace blit
