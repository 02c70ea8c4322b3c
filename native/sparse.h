// Sparse files: a source with holes (st_blocks * 512 < st_size) is copied data range by data range,
// found with SEEK_DATA / SEEK_HOLE, and the copy is given its size with ftruncate, so its holes stay
// holes and are never written as zeros. Files without holes never come here (no extra syscalls).
#pragma once

#include <cstdint>

#include "copy.h"

namespace blit {

// Copies exactly `size` bytes of in to out (a fresh, empty file) keeping the holes. Returns 0 or an
// errno (*stage says which side); *changed when the source turned out shorter than declared.
// *unsupported (nothing written) when the file system cannot say where the data is: copy it whole.
int CopySparse(int in, int out, uint64_t size, Scratch& buffer, int32_t* stage, bool* changed, bool* unsupported);

// A received file of a sparse source, its bytes all written: the all-zero 4 KiB pages (aligned to
// the file's start; a zero partial page at the end too) of [0, size) become holes, runs of them
// punched at once (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE: the size stays). The bytes are read
// back from fd in 1 MiB chunks, or scanned in `data` (the whole file, `size` bytes) when given.
// Returns 0 or an errno; a file system that cannot punch holes leaves the file dense (0).
int PunchZeroPages(int fd, uint64_t size, const char* data = nullptr);

}  // namespace blit
