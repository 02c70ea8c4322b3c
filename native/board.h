// The activity board as native threads see it (util/activity-board.ts owns its layout): the
// stall detector's beat, the cancel flag, progress counters, and the slots where each thread says
// what it does. The calling thread's pointers into it are thread-local, set by whoever runs a batch.

#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace blit {

// The activity board (util/activity-board.ts): header Int32s (beats, stopped, paused, cancelled),
// then BigInt64 counters (bytes written, directory entries dealt with, three of what directory jobs
// listed), then 32 slots of 512 bytes (2-byte length + UTF-8 text) saying what each thread does.
// Exported in `codes.board`; test/unit/native-codes.test.ts checks it against the board's layout.
constexpr int kBeats = 0, kStopped = 1, kPaused = 2, kCancelled = 3;
constexpr size_t kCounterWritten = 0, kCounterDirEntries = 1, kCounterListed = 2, kListedCounters = 3;
constexpr size_t kSlotBytes = 512, kSlots = 32;

// Progress beat for the stall detector: an Int32 in shared memory, bumped after each chunk.
inline thread_local int32_t* t_beat = nullptr;

inline void Beat() {
  if (t_beat) __atomic_fetch_add(t_beat, 1, __ATOMIC_SEQ_CST);
}

// The run was interrupted (the board's CANCELLED Int32, util/activity-board.ts): copies stop between
// files and between 64 MiB chunks, removing their temp file.
inline thread_local int32_t* t_cancel = nullptr;

inline bool Cancelled() {
  return t_cancel && __atomic_load_n(t_cancel, __ATOMIC_RELAXED) != 0;
}

// Live byte count for progress (a BigInt64 in shared memory): bytes written, files in flight included.
inline thread_local int64_t* t_written = nullptr;

inline void Wrote(uint64_t n) {
  if (t_written) __atomic_fetch_add(t_written, static_cast<int64_t>(n), __ATOMIC_SEQ_CST);
}

// Live entry count for progress (the BigInt64 after the byte count, when the board has one): entries
// a whole-directory job has dealt with so far, reported in full only when the job ends.
inline thread_local int64_t* t_dir_entries = nullptr;

inline void DealtWith() {
  if (t_dir_entries) __atomic_fetch_add(t_dir_entries, 1, __ATOMIC_RELAXED);
}

// What whole-directory jobs have listed so far, for the progress line's totals and ETA (three
// BigInt64s after those two, when the board has them): entries listed, bytes of the files the jobs
// will copy, and the change in directories still to list (each job, once listed: its
// subdirectories, which come back as jobs, minus itself). Each job reports its own figures again
// in its result, so JavaScript subtracts those of the jobs that ended.
inline thread_local int64_t* t_listed = nullptr;

// The board's CANCELLED Int32 when argument `index` is the board's header (it has one), else none.
int32_t* CancelFlag(const Napi::CallbackInfo& info, size_t index);

// Writes `text` into slot `slot` of the activity board's slots (2-byte length + UTF-8, cut to fit).
void SetSlot(uint8_t* slots, size_t slotsLength, size_t slot, const std::string& text);

}  // namespace blit
