// The last read of a file the data plane sends (a small file whole, or a large file's last block)
// and the check that it is still what was listed, in one call: the sender's per-file cost was a
// readSync and an fstatSync with a BigIntStats object (~20 µs of the daemon's event loop per small
// file in a pull, perf), where the system calls themselves take ~3 µs.

#include "read_checked.h"

#include <cerrno>
#include <cstdint>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <string_view>
#include <vector>

#include "beneath.h"
#include "common.h"
#include "copy.h"
#include "uring.h"

namespace blit {

namespace {

// fstat of `fd`: 0 when it is a regular file of `size` bytes with that mtime, -1 when not, errno
// when the fstat failed. `holes`, when given, says whether it has fewer bytes on disk than its size
// (as sparse-blocks.ts hasHolesOnDisk: st_blocks counts 512-byte units).
int CheckListed(int fd, int64_t size, int64_t sec, int64_t nsec, bool* holes) {
  struct stat st;
  if (fstat(fd, &st) != 0) return errno;
  if (!S_ISREG(st.st_mode) || !SameSizeAndMtime(st, static_cast<uint64_t>(size), sec, nsec)) return -1;
  if (holes) *holes = static_cast<uint64_t>(st.st_blocks) * 512 < static_cast<uint64_t>(st.st_size);
  return 0;
}

// Fills data[0, length) from fd at `offset`: 0, -1 when the file ended first, or the read's errno.
int ReadFully(int fd, char* data, size_t length, int64_t offset) {
  for (size_t done = 0; done < length;) {
    ssize_t n = pread(fd, data + done, length - done, static_cast<off_t>(offset) + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return -1;  // shrank
    done += static_cast<size_t>(n);
  }
  return 0;
}

// How ReadWholeAt opens a file: a last link is not followed, a FIFO never blocks the open.
constexpr int kWholeFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;

// ReadWholeAt's answer when the fstat after the open (CheckListed) said `check`, not 0.
int UnreadAnswer(int check) { return check == -1 ? kNotAsListed : -check; }

// ReadWholeAt's answer for a read that ended `read` (0, -1 or an errno), then checked again.
int ReadAnswer(int read) { return read == 0 ? kWholeRead : read == -1 ? kChangedWhileRead : -(kReadFailedBase + read); }

}  // namespace

Napi::Value ReadChecked(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsTypedArray() || !info[2].IsNumber() || !info[3].IsNumber() ||
      !info[4].IsNumber() || !info[5].IsNumber()) {
    throw Napi::TypeError::New(env, "readChecked(fd, into, offset, size, mtimeSec, mtimeNsec)");
  }
  Napi::TypedArray typed = info[1].As<Napi::TypedArray>();
  if (typed.TypedArrayType() != napi_uint8_array) throw Napi::TypeError::New(env, "readChecked: into must be a Uint8Array");
  Napi::Uint8Array into = typed.As<Napi::Uint8Array>();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int64_t offset = info[2].As<Napi::Number>().Int64Value();
  int64_t size = info[3].As<Napi::Number>().Int64Value();
  int64_t sec = info[4].As<Napi::Number>().Int64Value();
  int64_t nsec = info[5].As<Napi::Number>().Int64Value();
  if (fd < 0 || offset < 0 || size < 0) throw Napi::TypeError::New(env, "readChecked: negative fd, offset or size");
  int read = ReadFully(fd, reinterpret_cast<char*>(into.Data()), into.ByteLength(), offset);
  if (read != 0) return Napi::Number::New(env, read);
  return Napi::Number::New(env, CheckListed(fd, size, sec, nsec, nullptr));
}

int ReadWholeAt(const std::string& path, char* into, int64_t size, int64_t sec, int64_t nsec, const WholeRoot* root,
                DirCache* dirs) {
  // As the per-step path opens it (kWholeFlags); below a root, through blit_beneath's resolution
  // (never out of it).
  int fd;
  if (root) {
    fd = blit_beneath::OpenForReadBeneath(root->fd, root->path, path, root->walk);
  } else if (dirs) {
    int at;
    std::string name;
    dirs->Locate(path, &at, &name);
    fd = openat(at, name.c_str(), kWholeFlags);
  } else {
    fd = open(path.c_str(), kWholeFlags);
  }
  if (fd < 0) return root ? fd : -errno;
  // Checked before it is read: a file swapped for a device or a FIFO is never read at all. A
  // failed fstat here is answered as a failed open (the caller reports both alike).
  int answer = CheckListed(fd, size, sec, nsec, nullptr);
  if (answer != 0) {
    answer = UnreadAnswer(answer);
  } else {
    int read = ReadFully(fd, into, static_cast<size_t>(size), 0);
    if (read == 0) {
      if (root) {
        ChangeSourceIfInjected(root->path, path);
      } else {
        ChangeSourceIfInjected(path);
      }
      read = CheckListed(fd, size, sec, nsec, nullptr);
    }
    answer = ReadAnswer(read);
  }
  close(fd);
  return answer;
}

namespace {

// The directory part of a path as DirCache::Locate splits it ("" where it opens none).
std::string_view DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? std::string_view() : std::string_view(path).substr(0, slash);
}

// This thread's ring answered an openat2 as a kernel or filter without it would (ENOSYS, EINVAL,
// EPERM, EOPNOTSUPP) where the system call then did otherwise (the same answer from both is the
// file's, as an LSM's EPERM): its files are opened one call each from then on.
thread_local bool t_noRingOpenat2 = false;

bool RingOpenat2Refused(int answer) {
  return answer == -ENOSYS || answer == -EINVAL || answer == -EPERM || answer == -EOPNOTSUPP;
}
// ReadWholeAt's steps for `n` files, each step one batch on the ring: the opens as `open(k)`
// queues them. Below a `root`, a file the ring did not open is read by `alone(k)` (ReadWholeAt's
// own steps, whose walk may still open it, and which name what failed); elsewhere it is answered
// with the open's -errno. Every file goes to `alone` where the ring itself failed.
template <typename Open, typename Alone>
void ReadRun(const WholeFile* files, size_t n, Uring* ring, int32_t* answers, const WholeRoot* root, Open open,
             Alone alone, bool* refused = nullptr) {
  for (size_t k = 0; k < n; k++) open(k);
  std::vector<int> fds;
  if (!ring->Run(&fds)) {
    // The ring failed (never again on this thread): whatever it opened is not known.
    for (size_t k = 0; k < n; k++) answers[k] = alone(k);
    return;
  }
  std::vector<size_t> reading;
  for (size_t k = 0; k < n; k++) {
    if (fds[k] < 0) {
      answers[k] = root ? alone(k) : fds[k];  // -errno, as a failed open
      // Refused by the ring and not by the system call: the ring's openat2 is what fails here.
      if (refused && RingOpenat2Refused(fds[k]) && answers[k] != fds[k]) *refused = true;
      continue;
    }
    // Checked before it is read: a file swapped for a device or a FIFO is never read at all.
    int answer = CheckListed(fds[k], files[k].size, files[k].sec, files[k].nsec, nullptr);
    if (answer != 0) {
      answers[k] = UnreadAnswer(answer);
      continue;
    }
    ring->Read(fds[k], files[k].into, static_cast<unsigned>(files[k].size), 0);
    reading.push_back(k);
  }
  std::vector<int> got;
  bool ran = reading.empty() || ring->Run(&got);
  for (size_t j = 0; j < reading.size(); j++) {
    size_t k = reading[j];
    const WholeFile& file = files[k];
    int res = ran ? got[j] : -EAGAIN;
    int read;
    if (res >= 0) {
      // Short: the rest read as ReadWholeAt reads it (an end before the size is a file that shrank).
      read = res == file.size ? 0 : ReadFully(fds[k], file.into + res, static_cast<size_t>(file.size - res), res);
    } else if (res == -EAGAIN || res == -EINTR) {
      // Pages not in memory, asked without waiting (O_NONBLOCK): read as ReadWholeAt reads.
      read = ReadFully(fds[k], file.into, static_cast<size_t>(file.size), 0);
    } else {
      read = -res;
    }
    if (read == 0) {
      if (root) {
        ChangeSourceIfInjected(root->path, *file.path);
      } else {
        ChangeSourceIfInjected(*file.path);
      }
      read = CheckListed(fds[k], file.size, file.sec, file.nsec, nullptr);
    }
    answers[k] = ReadAnswer(read);
  }
  if (!ran) {
    // The ring failed on the reads (never used again): no close was queued, so each is closed here.
    for (size_t k = 0; k < n; k++) {
      if (fds[k] >= 0) close(fds[k]);
    }
    return;
  }
  for (size_t k = 0; k < n; k++) {
    if (fds[k] >= 0) ring->Close(fds[k]);
  }
  std::vector<int> closed;
  // A ring that fails here may have closed some: none is closed again (the number may be another
  // thread's descriptor by then), at the cost of leaving the rest open.
  ring->Run(&closed);
}

}  // namespace

// The most files of one batch: each holds a descriptor until the batch closes them (two landing
// threads, 128 at most), far below a process's usual limit.
constexpr size_t kReadRun = 64;

void ReadWholeGroup(const WholeFile* files, size_t count, DirCache& dirs, int32_t* answers) {
  Uring* ring = Uring::ForThisThread();
  for (size_t i = 0; i < count;) {
    if (!ring) {
      answers[i] = ReadWholeAt(*files[i].path, files[i].into, files[i].size, files[i].sec, files[i].nsec, nullptr, &dirs);
      i++;
      continue;
    }
    std::string_view dir = DirOf(*files[i].path);
    size_t end = i + 1;
    while (end < count && end - i < kReadRun && DirOf(*files[end].path) == dir) end++;
    const WholeFile* run = files + i;
    std::vector<std::string> names(end - i);
    ReadRun(
        run, end - i, ring, answers + i, nullptr,
        [&](size_t k) {
          int at;
          dirs.Locate(*run[k].path, &at, &names[k]);
          ring->Openat(at, names[k].c_str(), kWholeFlags, 0);
        },
        [&](size_t k) {
          return ReadWholeAt(*run[k].path, run[k].into, run[k].size, run[k].sec, run[k].nsec, nullptr, &dirs);
        });
    i = end;
    ring = Uring::ForThisThread();  // none once it failed
  }
}

void ReadWholeGroupBeneath(const WholeFile* files, size_t count, const WholeRoot& root, int32_t* answers) {
  Uring* ring = root.walk ? nullptr : Uring::ForThisThread();
  // A path the ring cannot be given as it is (empty, or holding a NUL) goes one call each.
  auto plain = [](const std::string& path) { return !path.empty() && path.find('\0') == std::string::npos; };
  for (size_t i = 0; i < count;) {
    if (!ring || !ring->HasOpenat2() || t_noRingOpenat2 || !plain(*files[i].path)) {
      answers[i] = ReadWholeAt(*files[i].path, files[i].into, files[i].size, files[i].sec, files[i].nsec, &root);
      i++;
      continue;
    }
    size_t end = i + 1;
    while (end < count && end - i < kReadRun && plain(*files[end].path)) end++;
    const WholeFile* run = files + i;
    bool refused = false;
    ReadRun(
        run, end - i, ring, answers + i, &root,
        [&](size_t k) { ring->OpenatBeneath(root.fd, run[k].path->c_str(), kWholeFlags); },
        [&](size_t k) {
          return ReadWholeAt(*run[k].path, run[k].into, run[k].size, run[k].sec, run[k].nsec, &root);
        },
        &refused);
    if (refused) t_noRingOpenat2 = true;
    i = end;
    ring = Uring::ForThisThread();
  }
}

Napi::Value OpenedAsListed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  for (size_t i = 0; i < 4; i++) {
    if (!info[i].IsNumber()) throw Napi::TypeError::New(env, "openedAsListed(fd, size, mtimeSec, mtimeNsec)");
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  int64_t size = info[1].As<Napi::Number>().Int64Value();
  int64_t sec = info[2].As<Napi::Number>().Int64Value();
  int64_t nsec = info[3].As<Napi::Number>().Int64Value();
  if (fd < 0 || size < 0) throw Napi::TypeError::New(env, "openedAsListed: negative fd or size");
  bool holes = false;
  int checked = CheckListed(fd, size, sec, nsec, &holes);
  if (checked != 0) return Napi::Number::New(env, checked > 0 ? checked + 1 : -1);
  return Napi::Number::New(env, holes ? 1 : 0);
}

}  // namespace blit
