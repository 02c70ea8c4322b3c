// See common.h.

#include "common.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace blit {

const char* ErrnoCode(int err) {
  switch (err) {
    case EACCES: return "EACCES";
    case ENOTSUP: return "ENOTSUP";
#if EOPNOTSUPP != ENOTSUP
    case EOPNOTSUPP: return "EOPNOTSUPP";
#endif
    case E2BIG: return "E2BIG";
    case ERANGE: return "ERANGE";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EEXIST: return "EEXIST";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ENOSPC: return "ENOSPC";
    case EDQUOT: return "EDQUOT";
    case EROFS: return "EROFS";
    case ELOOP: return "ELOOP";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case EIO: return "EIO";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case EXDEV: return "EXDEV";
    case ECANCELED: return "ECANCELED";
    case EBUSY: return "EBUSY";
    case ETXTBSY: return "ETXTBSY";
    case EINVAL: return "EINVAL";
    case EFBIG: return "EFBIG";
    case ENOMEM: return "ENOMEM";
    case EAGAIN: return "EAGAIN";
    case EINTR: return "EINTR";
    case EBADF: return "EBADF";
    case EPIPE: return "EPIPE";
    case ECONNRESET: return "ECONNRESET";
    case ENOTCONN: return "ENOTCONN";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ENODATA: return "ENODATA";
    default: return "EUNKNOWN";
  }
}

Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string& path) {
  std::string message = std::string(ErrnoCode(err)) + ": " + strerror(err) + ", " + syscall + " '" + path + "'";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, ErrnoCode(err)));
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, syscall));
  error.Set("path", Napi::String::New(env, path));
  return error;
}

std::string PathArg(const Napi::Value& value) {
  if (value.IsBuffer()) {
    auto buffer = value.As<Napi::Buffer<char>>();
    return std::string(buffer.Data(), buffer.Length());
  }
  return value.As<Napi::String>().Utf8Value();
}

bool IsValidUtf8(const unsigned char* s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

bool EnvIsOne(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && std::strcmp(value, "1") == 0;
}

bool IsName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

Napi::Value NameValue(Napi::Env env, const char* s, size_t n) {
  if (IsValidUtf8(reinterpret_cast<const unsigned char*>(s), n)) return Napi::String::New(env, s, n);
  return Napi::Buffer<char>::Copy(env, s, n);
}

int32_t* OptionalInt32s(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || !info[index].IsTypedArray()) return nullptr;
  auto array = info[index].As<Napi::Int32Array>();
  return array.ElementLength() > 0 ? array.Data() : nullptr;
}

// Element `element` of the BigInt64Array argument `index`, if there is one.
int64_t* OptionalInt64s(const Napi::CallbackInfo& info, size_t index, size_t element) {
  if (info.Length() <= index || !info[index].IsTypedArray()) return nullptr;
  auto array = info[index].As<Napi::TypedArrayOf<int64_t>>();
  return array.ElementLength() > element ? array.Data() + element : nullptr;
}

Napi::Value ErrnoName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), ErrnoCode(info[0].As<Napi::Number>().Int32Value()));
}

}  // namespace blit
