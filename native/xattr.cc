// See xattr.h.

#include "xattr.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common.h"

namespace blit {

namespace {

constexpr const char* kAclAccess = "system.posix_acl_access";
constexpr const char* kAclDefault = "system.posix_acl_default";

bool StartsWith(const std::string& s, const char* prefix) { return s.compare(0, strlen(prefix), prefix) == 0; }

bool IsRoot() {
  static const bool root = geteuid() == 0;
  return root;
}

bool Unsupported(int err) { return err == ENOTSUP || err == EOPNOTSUPP; }

// Reads names then values through list/get (path or fd flavours).
template <typename List, typename Get>
int ReadWith(List list, Get get, Xattrs* out) {
  out->clear();
  char stackNames[1024];
  std::vector<char> heapNames;
  char* names = stackNames;
  ssize_t n = list(names, sizeof stackNames);
  while (n < 0 && errno == ERANGE) {
    ssize_t need = list(nullptr, 0);
    if (need < 0) break;
    heapNames.resize(static_cast<size_t>(need) + 1);
    names = heapNames.data();
    n = list(names, heapNames.size());
  }
  if (n < 0) return Unsupported(errno) ? 0 : errno;
  if (n == 0) return 0;  // most entries: nothing more to do
  bool root = IsRoot();
  std::vector<char> value(256);
  for (ssize_t at = 0; at < n;) {
    std::string name(names + at);
    at += static_cast<ssize_t>(name.size()) + 1;
    if (ClassifyXattr(name, root) == kXattrSkip) continue;
    ssize_t got;
    for (;;) {
      got = get(name.c_str(), value.data(), value.size());
      if (got >= 0 || errno != ERANGE) break;
      ssize_t need = get(name.c_str(), nullptr, 0);
      if (need < 0) break;
      value.resize(static_cast<size_t>(need) + 1);
    }
    if (got < 0) {
      if (errno == ENODATA) continue;  // removed meanwhile
      return errno;
    }
    out->push_back({std::move(name), std::string(value.data(), static_cast<size_t>(got))});
  }
  std::sort(out->begin(), out->end(), [](const Xattr& a, const Xattr& b) { return a.name < b.name; });
  return 0;
}

bool Kept(XattrClass c, int keep) {
  return (c == kXattrPlain && (keep & kKeepXattrs)) || (c == kXattrAcl && (keep & kKeepAcls));
}

}  // namespace

XattrClass ClassifyXattr(const std::string& name, bool root) {
  if (name == kAclAccess || name == kAclDefault) return kXattrAcl;
  if (StartsWith(name, "user.")) return kXattrPlain;
  if (StartsWith(name, "trusted.") || StartsWith(name, "security.")) return root ? kXattrPlain : kXattrSkip;
  return kXattrSkip;
}

int ReadXattrs(const std::string& path, Xattrs* out) {
  const char* p = path.c_str();
  return ReadWith([p](char* buf, size_t size) { return llistxattr(p, buf, size); },
                  [p](const char* name, void* buf, size_t size) { return lgetxattr(p, name, buf, size); }, out);
}

bool NoXattrsAt(int dirFd, const char* name) {
#if defined(__linux__) && defined(__x86_64__)
  // listxattrat(2): one call for the common answer (none), without a walk of the whole path.
  constexpr long kListxattrat = 465;
  // Missing: an older kernel (ENOSYS), or a seccomp filter that does not know it (EPERM).
  static std::atomic<bool> listxattratMissing{false};
  if (!listxattratMissing.load(std::memory_order_relaxed)) {
    char probe[1];
    // The size the names take: 0 for most entries.
    ssize_t n = syscall(kListxattrat, dirFd, name, AT_SYMLINK_NOFOLLOW, probe, 0);
    if (n == 0) return true;
    if (n < 0 && (errno == ENOSYS || errno == EPERM)) listxattratMissing.store(true, std::memory_order_relaxed);
  }
#else
  (void)dirFd;
  (void)name;
#endif
  return false;
}

int ReadXattrsAt(int dirFd, const std::string& name, Xattrs* out) {
  if (NoXattrsAt(dirFd, name.c_str())) {
    out->clear();
    return 0;
  }
  // Built only here: most entries were answered above.
  std::string viaProc = "/proc/self/fd/" + std::to_string(dirFd) + "/" + name;
  const char* p = viaProc.c_str();
  return ReadWith([p](char* buf, size_t size) { return llistxattr(p, buf, size); },
                  [p](const char* attr, void* buf, size_t size) { return lgetxattr(p, attr, buf, size); }, out);
}

int ReadXattrsFd(int fd, Xattrs* out) {
  return ReadWith([fd](char* buf, size_t size) { return flistxattr(fd, buf, size); },
                  [fd](const char* name, void* buf, size_t size) { return fgetxattr(fd, name, buf, size); }, out);
}

bool SameXattrs(const Xattrs& a, const Xattrs& b, int keep) {
  if (a.empty() && b.empty()) return true;  // most entries
  bool root = IsRoot();
  auto next = [&](const Xattrs& list, size_t i) {
    while (i < list.size() && !Kept(ClassifyXattr(list[i].name, root), keep)) i++;
    return i;
  };
  size_t i = next(a, 0), j = next(b, 0);
  while (i < a.size() && j < b.size()) {
    if (a[i].name != b[j].name || a[i].value != b[j].value) return false;
    i = next(a, i + 1);
    j = next(b, j + 1);
  }
  return i == a.size() && j == b.size();
}

XattrOutcome ApplyXattrs(int fd, const std::string& path, bool isLink, const Xattrs& wanted, int keep,
                         const Xattrs* known) {
  XattrOutcome outcome;
  if (keep == 0) return outcome;
  bool root = IsRoot();
  const char* p = path.c_str();
  Xattrs have;
  int readErr = known ? 0 : fd >= 0 ? ReadXattrsFd(fd, &have) : ReadXattrs(path, &have);
  if (known) have = *known;
  auto note = [&](XattrClass c, int err) {
    if (c == kXattrAcl) {
      outcome.acls = true;
      if (outcome.aclErr == 0) outcome.aclErr = err;
    } else {
      outcome.xattrs = true;
      if (outcome.xattrErr == 0) outcome.xattrErr = err;
    }
  };
  if (readErr != 0) {
    // Nothing is known of what is there: say so for every kind the source has, and have the mode
    // set again (an ACL there may have moved its group bits).
    outcome.aclTouched = true;
    for (const Xattr& x : wanted) {
      XattrClass c = ClassifyXattr(x.name, root);
      if (Kept(c, keep)) note(c, readErr);
    }
    return outcome;
  }
  auto linkRefuses = [&](const std::string& name) { return isLink && StartsWith(name, "user."); };
  for (const Xattr& x : have) {
    XattrClass c = ClassifyXattr(x.name, root);
    if (c == kXattrAcl) outcome.aclTouched = true;
    if (!Kept(c, keep) || linkRefuses(x.name)) continue;
    bool stays = std::any_of(wanted.begin(), wanted.end(), [&](const Xattr& w) { return w.name == x.name; });
    if (stays) continue;
    int r = fd >= 0 ? fremovexattr(fd, x.name.c_str()) : lremovexattr(p, x.name.c_str());
    note(c, r == 0 || errno == ENODATA ? 0 : errno);
  }
  for (const Xattr& x : wanted) {
    XattrClass c = ClassifyXattr(x.name, root);
    if (!Kept(c, keep) || linkRefuses(x.name)) continue;
    if (c == kXattrAcl) outcome.aclTouched = true;
    bool same = std::any_of(have.begin(), have.end(), [&](const Xattr& h) { return h.name == x.name && h.value == x.value; });
    if (same) {
      note(c, 0);
      continue;
    }
    int r = fd >= 0 ? fsetxattr(fd, x.name.c_str(), x.value.data(), x.value.size(), 0)
                    : lsetxattr(p, x.name.c_str(), x.value.data(), x.value.size(), 0);
    note(c, r == 0 ? 0 : errno);
  }
  return outcome;
}

Napi::Value XattrsValue(Napi::Env env, const Xattrs& xattrs) {
  Napi::Array out = Napi::Array::New(env, xattrs.size());
  for (size_t i = 0; i < xattrs.size(); i++) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, Napi::String::New(env, xattrs[i].name));
    pair.Set(1u, Napi::Buffer<char>::Copy(env, xattrs[i].value.data(), xattrs[i].value.size()));
    out.Set(i, pair);
  }
  return out;
}

Xattrs ParseXattrs(const Napi::Value& value) {
  Xattrs out;
  if (!value.IsArray()) return out;
  Napi::Array list = value.As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value item = list.Get(i);
    if (!item.IsArray()) continue;
    Napi::Array pair = item.As<Napi::Array>();
    Napi::Value name = pair.Get(0u);
    Napi::Value bytes = pair.Get(1u);
    if (!name.IsString() || !bytes.IsTypedArray()) continue;
    Napi::Uint8Array data = bytes.As<Napi::Uint8Array>();
    out.push_back({name.As<Napi::String>().Utf8Value(),
                   std::string(reinterpret_cast<const char*>(data.Data()), data.ByteLength())});
  }
  std::sort(out.begin(), out.end(), [](const Xattr& a, const Xattr& b) { return a.name < b.name; });
  return out;
}

Napi::Value ReadXattrsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = PathArg(info[0]);
  Xattrs xattrs;
  int err = ReadXattrs(path, &xattrs);
  if (err != 0) throw ErrnoError(env, err, "llistxattr", path);
  return XattrsValue(env, xattrs);
}

Napi::Value SetXattrsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = PathArg(info[0]);
  Xattrs wanted = ParseXattrs(info[1]);
  int keep = info[2].As<Napi::Number>().Int32Value();
  bool isLink = info[3].ToBoolean();
  XattrOutcome outcome = ApplyXattrs(-1, path, isLink, wanted, keep);
  Napi::Object result = Napi::Object::New(env);
  result.Set("xattrs", outcome.xattrs);
  result.Set("acls", outcome.acls);
  result.Set("xattrErr", outcome.xattrErr);
  result.Set("aclErr", outcome.aclErr);
  return result;
}

}  // namespace blit
