// See sparse.h.

#include "sparse.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "board.h"

namespace blit {

int CopySparse(int in, int out, uint64_t size, Scratch& buffer, int32_t* stage, bool* changed, bool* unsupported) {
#if defined(SEEK_DATA) && defined(SEEK_HOLE)
  uint64_t at = 0;
  while (at < size) {
    off_t data = lseek(in, static_cast<off_t>(at), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // only a hole from here to the end
      if (at == 0 && (errno == EINVAL || errno == ENOTSUP)) {
        *unsupported = true;
        return 0;
      }
      *stage = kStageSource;
      return errno;
    }
    if (static_cast<uint64_t>(data) >= size) break;
    off_t hole = lseek(in, data, SEEK_HOLE);
    if (hole < 0) {
      *stage = kStageSource;
      return errno;
    }
    uint64_t end = std::min<uint64_t>(static_cast<uint64_t>(hole), size);
    int err = CopyRange(in, out, static_cast<uint64_t>(data), end, buffer, stage, changed);
    if (err != 0 || *changed) return err;
    at = end;
  }
  // The holes (and a hole at the end) are the file's size, never written.
  if (ftruncate(out, static_cast<off_t>(size)) != 0) {
    *stage = kStageDest;
    return errno;
  }
  return 0;
#else
  (void)in, (void)out, (void)size, (void)buffer, (void)stage, (void)changed;
  *unsupported = true;
  return 0;
#endif
}

namespace {

constexpr uint64_t kPage = 4096;
constexpr size_t kPunchChunk = 1 << 20;

bool AllZero(const char* p, size_t n) {
  static const char zeros[kPage] = {};
  while (n > 0) {
    size_t k = std::min<size_t>(n, kPage);
    if (std::memcmp(p, zeros, k) != 0) return false;
    p += k;
    n -= k;
  }
  return true;
}

// Punches [from, to): 0, or the errno of a refusal other than "not supported here" (*unsupported).
int Punch(int fd, uint64_t from, uint64_t to, bool* unsupported) {
#if defined(FALLOC_FL_PUNCH_HOLE) && defined(FALLOC_FL_KEEP_SIZE)
  for (;;) {
    if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(from),
                  static_cast<off_t>(to - from)) == 0)
      return 0;
    if (errno == EINTR) continue;
    if (errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL) {
      *unsupported = true;
      return 0;
    }
    return errno;
  }
#else
  (void)fd, (void)from, (void)to;
  *unsupported = true;
  return 0;
#endif
}

}  // namespace

int PunchZeroPages(int fd, uint64_t size, const char* data) {
  std::vector<char> buffer;
  if (data == nullptr) buffer.resize(kPunchChunk);
  bool unsupported = false;
  uint64_t runStart = UINT64_MAX;  // start of the zero run being gathered
  uint64_t at = 0;
  while (at < size && !unsupported) {
#if defined(SEEK_DATA)
    if (data == nullptr) {
      // Holes already there (a hole record, a hole at the end) are never read: on to the next
      // data, from the start of its page; what lies between is zeros, part of the run.
      off_t next = lseek(fd, static_cast<off_t>(at), SEEK_DATA);
      uint64_t skipTo = next < 0 ? (errno == ENXIO ? size : at) : static_cast<uint64_t>(next) / kPage * kPage;
      if (skipTo > at) {
        if (runStart == UINT64_MAX) runStart = at;
        at = std::min(skipTo, size);
        continue;
      }
    }
#endif
    size_t want = static_cast<size_t>(std::min<uint64_t>(size - at, kPunchChunk));
    const char* chunk;
    if (data != nullptr) {
      chunk = data + at;
    } else {
      size_t got = 0;
      while (got < want) {
        ssize_t n = pread(fd, buffer.data() + got, want - got, static_cast<off_t>(at + got));
        if (n < 0) {
          if (errno == EINTR) continue;
          return errno;
        }
        if (n == 0) break;
        got += static_cast<size_t>(n);
      }
      if (got < want) return 0;  // shorter than told: nothing more is punched
      chunk = buffer.data();
    }
    for (size_t page = 0; page < want; page += kPage) {
      size_t n = std::min<size_t>(kPage, want - page);
      uint64_t offset = at + page;
      if (AllZero(chunk + page, n)) {
        if (runStart == UINT64_MAX) runStart = offset;
      } else if (runStart != UINT64_MAX) {
        int err = Punch(fd, runStart, offset, &unsupported);
        if (err != 0) return err;
        runStart = UINT64_MAX;
        if (unsupported) return 0;
      }
    }
    at += want;
  }
  // A zero run to the end: punched to the end of its last page, past the size (kept), or a
  // partial last page would stay allocated.
  if (runStart != UINT64_MAX && !unsupported) return Punch(fd, runStart, (size + kPage - 1) / kPage * kPage, &unsupported);
  return 0;
}

}  // namespace blit
