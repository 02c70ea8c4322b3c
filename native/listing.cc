// See listing.h.

#include "listing.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <thread>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#if defined(__linux__)
#include <sys/vfs.h>
#endif
#include <unistd.h>

#include "common.h"
#include "read_ahead.h"

namespace blit {

namespace {

// Tests only (setListingHang): listing this directory hangs for a minute, as on a hung mount. Set
// from the main thread, read by reader and copy threads: behind a lock, checked only once set.
std::atomic<bool> g_listingHangSet{false};
std::mutex g_listingHangLock;
std::string g_listingHang;

bool ListingHangs(const std::string& path) {
  if (!g_listingHangSet.load(std::memory_order_acquire)) return false;
  std::lock_guard<std::mutex> guard(g_listingHangLock);
  return path == g_listingHang;
}

}  // namespace

bool LocalChangeTimes(int fd) {
#if defined(__linux__)
  struct statfs fs;
  if (fstatfs(fd, &fs) != 0) return false;
  switch (static_cast<uint64_t>(fs.f_type)) {
    case 0xEF53:      // ext2, ext3, ext4
    case 0x58465342:  // XFS
    case 0x9123683E:  // Btrfs
    case 0x01021994:  // tmpfs
    case 0xF2F52010:  // F2FS
    case 0x2FC12FC1:  // ZFS
    case 0xCA451A4E:  // bcachefs
      return true;
    default:
      return false;
  }
#else
  (void)fd;
  return false;
#endif
}

void ReadDeferredXattrs(const std::string& dir, ListedItem& item) {
  item.xattrsDeferred = false;
  item.xattrsRead = ReadXattrs(dir + "/" + item.name, &item.xattrs) == 0;
}

Listed GatherDir(const std::string& path, bool noFollow, const XattrReads& reads) {
  if (ListingHangs(path)) std::this_thread::sleep_for(std::chrono::seconds(60));
  Listed out;
  int dirfd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | (noFollow ? O_NOFOLLOW : 0));
  if (dirfd < 0) {
    out.err = errno;
    return out;
  }
  DIR* dir = fdopendir(dirfd);
  if (!dir) {
    out.err = errno;
    close(dirfd);
    return out;
  }
  using Item = ListedItem;
  std::vector<Item>& items = out.items;
  // The entry's path, for llistxattr (there is no *xattrat): the directory's path, then the name.
  std::string prefix = path;
  if (prefix.empty() || prefix.back() != '/') prefix += '/';
  const size_t prefixLength = prefix.size();
  const int64_t changedFromNs = reads.changedFromNs > 0 && LocalChangeTimes(dirfd) ? reads.changedFromNs : 0;
  errno = 0;
  for (;;) {
    struct dirent* d = readdir(dir);
    if (!d) break;
    const char* name = d->d_name;
    if (name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0))) continue;
    Item item{name, kGone, 0, 0, 0, 0, 0, false, {}};
    prefix.resize(prefixLength);
    prefix += name;
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      item.kind = kError;
      item.err = errno;
    } else {
      item.mode = st.st_mode & 07777;
      item.size = static_cast<double>(st.st_size);
      item.uid = st.st_uid;
      item.gid = st.st_gid;
      item.nlink = static_cast<uint32_t>(st.st_nlink);
      item.fileType = st.st_mode & S_IFMT;
      item.dev = static_cast<uint64_t>(st.st_dev);
      item.ino = static_cast<uint64_t>(st.st_ino);
      item.rdev = static_cast<uint64_t>(st.st_rdev);
      item.allocated = static_cast<double>(st.st_blocks) * 512.0;
#if defined(__APPLE__)
      item.sec = static_cast<double>(st.st_mtimespec.tv_sec);
      item.nsec = static_cast<uint32_t>(st.st_mtimespec.tv_nsec);
#else
      item.sec = static_cast<double>(st.st_mtim.tv_sec);
      item.nsec = static_cast<uint32_t>(st.st_mtim.tv_nsec);
#endif
#if defined(__APPLE__)
      item.ctimeNs = static_cast<int64_t>(st.st_ctimespec.tv_sec) * 1000000000LL + st.st_ctimespec.tv_nsec;
#else
      item.ctimeNs = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000LL + st.st_ctim.tv_nsec;
#endif
      if (item.ctimeNs > out.maxCtimeNs) out.maxCtimeNs = item.ctimeNs;
      if (S_ISREG(st.st_mode)) item.kind = kFile;
      else if (S_ISDIR(st.st_mode)) item.kind = kDir;
      else if (S_ISLNK(st.st_mode)) {
        item.kind = kSymlink;
        std::vector<char> buf(st.st_size > 0 ? static_cast<size_t>(st.st_size) + 1 : 4096);
        for (;;) {
          ssize_t n = readlinkat(dirfd, name, buf.data(), buf.size());
          if (n < 0) {
            item.kind = errno == ENOENT ? kGone : kError;
            item.err = errno;
            break;
          }
          if (static_cast<size_t>(n) < buf.size()) {
            item.hasLink = true;
            item.link.assign(buf.data(), static_cast<size_t>(n));
            break;
          }
          buf.resize(buf.size() * 2);
        }
        if (item.kind == kGone) continue;
      } else item.kind = kOther;
      bool read = reads.any && (reads.dirs || item.kind != kDir) &&
                  (changedFromNs == 0 || item.kind == kDir || item.ctimeNs >= changedFromNs);
      // Most entries have none, which listxattrat on the directory's descriptor says without a walk
      // of the whole path (~15% of a listing's time here, perf); the rest are read by their path.
      if (read) item.xattrsRead = NoXattrsAt(dirfd, name) || ReadXattrs(prefix, &item.xattrs) == 0;
      else item.xattrsDeferred = true;
    }
    items.push_back(std::move(item));
    errno = 0;
  }
  int readErr = errno;
  closedir(dir);
  if (readErr != 0) {
    out.err = readErr;
    out.items.clear();
  }
  return out;
}

// listDir(path, waitMs?) -> { names, kinds, modes, sizes, mtimeNs (BigInt64Array), links, errnos,
//   uids, gids, nlinks, types (st_mode & S_IFMT), devs, inos (BigUint64Array), rdevs, allocated,
//   xattrsRead (Uint8Array: 1 when read), xattrs ([[name, Buffer], ...] where an entry has any) } | undefined
// names: string, or Buffer when not valid UTF-8. kinds[i] == kGone: vanished; kError: errnos[i] says why.
// With waitMs: undefined when the listing takes longer than that (it goes on in a reader thread;
// call again, without waitMs, to take it).
Napi::Value ListDir(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = PathArg(info[0]);
  if (info.Length() > 1 && info[1].IsNumber() && !ListingWithin(path, info[1].As<Napi::Number>().Int32Value()))
    return env.Undefined();
  Listed listed = TakeListing(path);
  if (listed.err != 0) throw ErrnoError(env, listed.err, "scandir", path);
  return ListedArrays(env, listed.items, nullptr);
}

Napi::Object ListedArrays(Napi::Env env, const std::vector<ListedItem>& items, const std::vector<size_t>* only) {
  size_t n = only ? only->size() : items.size();
  Napi::Array names = Napi::Array::New(env, n);
  Napi::Array links = Napi::Array::New(env, n);
  auto kinds = Napi::Uint8Array::New(env, n);
  auto modes = Napi::Uint32Array::New(env, n);
  auto sizes = Napi::Float64Array::New(env, n);
  // Nanoseconds as BigInt64: the JS side reads a bigint per entry instead of building one.
  auto mtimes = Napi::TypedArrayOf<int64_t>::New(env, n, napi_bigint64_array);
  auto errnos = Napi::Int32Array::New(env, n);
  auto uids = Napi::Uint32Array::New(env, n);
  auto gids = Napi::Uint32Array::New(env, n);
  auto nlinks = Napi::Uint32Array::New(env, n);
  auto types = Napi::Uint32Array::New(env, n);
  auto devs = Napi::TypedArrayOf<uint64_t>::New(env, n, napi_biguint64_array);
  auto inos = Napi::TypedArrayOf<uint64_t>::New(env, n, napi_biguint64_array);
  auto rdevs = Napi::TypedArrayOf<uint64_t>::New(env, n, napi_biguint64_array);
  auto allocated = Napi::Float64Array::New(env, n);
  auto xattrsRead = Napi::Uint8Array::New(env, n);
  Napi::Array xattrs = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; i++) {
    const ListedItem& item = items[only ? (*only)[i] : i];
    names.Set(i, NameValue(env, item.name.data(), item.name.size()));
    kinds[i] = item.kind;
    modes[i] = item.mode;
    sizes[i] = item.size;
    mtimes[i] = MtimeNs(item);
    errnos[i] = item.err;
    uids[i] = item.uid;
    gids[i] = item.gid;
    nlinks[i] = item.nlink;
    types[i] = item.fileType;
    devs[i] = item.dev;
    inos[i] = item.ino;
    rdevs[i] = item.rdev;
    allocated[i] = item.allocated;
    xattrsRead[i] = item.xattrsRead ? 1 : 0;
    if (!item.xattrs.empty()) xattrs.Set(i, XattrsValue(env, item.xattrs));
    if (item.hasLink) links.Set(i, NameValue(env, item.link.data(), item.link.size()));
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("names", names);
  result.Set("kinds", kinds);
  result.Set("modes", modes);
  result.Set("sizes", sizes);
  result.Set("mtimeNs", mtimes);
  result.Set("links", links);
  result.Set("errnos", errnos);
  result.Set("uids", uids);
  result.Set("gids", gids);
  result.Set("nlinks", nlinks);
  result.Set("types", types);
  result.Set("devs", devs);
  result.Set("inos", inos);
  result.Set("rdevs", rdevs);
  result.Set("allocated", allocated);
  result.Set("xattrsRead", xattrsRead);
  result.Set("xattrs", xattrs);
  return result;
}

Napi::Value SetListingHang(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> guard(g_listingHangLock);
  g_listingHang = PathArg(info[0]);
  g_listingHangSet.store(true, std::memory_order_release);
  return info.Env().Undefined();
}

}  // namespace blit
