// See sparse.h.

#include "sparse.h"

#include <algorithm>
#include <cerrno>

#include <unistd.h>

#include "board.h"

namespace blit {

namespace {

// Copies [from, to) of in to the same offsets of out through the buffer.
int CopyRange(int in, int out, uint64_t from, uint64_t to, Scratch& buffer, int32_t* stage, bool* changed) {
  uint64_t done = from;
  while (done < to) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(to - done, buffer.size()));
    ssize_t n = pread(in, buffer.data(), want, static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      *stage = kStageSource;
      return errno;
    }
    if (n == 0) {
      *changed = true;
      return 0;
    }
    if (!WriteAll(out, buffer.data(), static_cast<size_t>(n), static_cast<off_t>(done))) {
      *stage = kStageDest;
      return errno;
    }
    done += static_cast<uint64_t>(n);
    Wrote(static_cast<uint64_t>(n));
    Beat();
    if (done < to && Cancelled()) {
      *stage = kStageDest;
      return ECANCELED;
    }
  }
  return 0;
}

}  // namespace

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

}  // namespace blit
