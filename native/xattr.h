// Extended attributes and POSIX ACLs (as Linux stores them: the xattrs system.posix_acl_access and
// system.posix_acl_default). Read per entry by the listing (llistxattr + lgetxattr, usually one
// call that finds none), compared in bulk by the whole-directory jobs, written on the temp file's
// descriptor after fchown and before fchmod (an ACL moves the mode's group bits; fchmod then sets
// the mask the source has). Plain C++, so any thread may use it.

#pragma once

#include <napi.h>

#include <string>
#include <vector>

namespace blit {

struct Xattr {
  std::string name;
  std::string value;
};

// Sorted by name; only the names blit keeps (ClassifyXattr not kXattrSkip).
using Xattrs = std::vector<Xattr>;

// Which kind an attribute is: ACLs (--no-acls), the rest (--no-xattrs), or one blit leaves alone
// (other system.* names; trusted.* and security.* when not root, which cannot read or write them).
enum XattrClass { kXattrSkip = 0, kXattrPlain = 1, kXattrAcl = 2 };

// Which kinds a transfer keeps: bits of submitCopyDir's `xattrs` argument and the JS `keep`.
constexpr int kKeepXattrs = 1;
constexpr int kKeepAcls = 2;
constexpr int kKeepBoth = kKeepXattrs | kKeepAcls;

XattrClass ClassifyXattr(const std::string& name, bool root);

// The attributes of `path` itself (never followed), or of an open descriptor: 0 or errno.
// A file system without xattrs (ENOTSUP) reads as none.
int ReadXattrs(const std::string& path, Xattrs* out);
int ReadXattrsFd(int fd, Xattrs* out);
// Of the entry `name` in the directory `dirFd` (not followed, never through a path a writer could
// swap): listxattrat (Linux 6.13), else /proc/self/fd/DIRFD/NAME, which also serves the values.
int ReadXattrsAt(int dirFd, const std::string& name, Xattrs* out);
// True when listxattrat(2) says the entry `name` in `dirFd` has no xattrs; false when it has some
// or the call is missing (a kernel before 6.13, a seccomp filter): then read them another way.
bool NoXattrsAt(int dirFd, const char* name);

// Equal within the kinds kept.
bool SameXattrs(const Xattrs& a, const Xattrs& b, int keep);

// What applying did, per kind: attempted (anything to set or remove), and the first errno.
struct XattrOutcome {
  bool xattrs = false;
  bool acls = false;
  int xattrErr = 0;
  int aclErr = 0;
  // An ACL was or is on the file: its mode needs an fchmod whatever the umask says.
  bool aclTouched = false;
};

// Makes the attributes of fd (or of path, not followed, when fd < 0) those of `wanted`, within the
// kinds kept: sets what differs, removes what the source lacks. user.* on a symbolic link is left
// alone (Linux refuses it on links; a source link never has any).
// `have`, when given, is what is there (a new file known to start bare): not read again.
XattrOutcome ApplyXattrs(int fd, const std::string& path, bool isLink, const Xattrs& wanted, int keep,
                         const Xattrs* have = nullptr);

// JS: readXattrs(path) -> [[name, Buffer], ...] sorted | throws; setXattrs(path, [[name, Buffer], ...],
// keep, isLink) -> { xattrs, acls, xattrErr, aclErr } (errno codes, 0 when done).
Napi::Value XattrsValue(Napi::Env env, const Xattrs& xattrs);
Napi::Value ReadXattrsJs(const Napi::CallbackInfo& info);
Napi::Value SetXattrsJs(const Napi::CallbackInfo& info);
// Parses [[name, Buffer], ...] (as XattrsValue gives) into sorted Xattrs.
Xattrs ParseXattrs(const Napi::Value& value);

}  // namespace blit
