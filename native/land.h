// Landing whole files that arrived in memory (the data plane's batches of small files) on the
// addon's own threads: see land.cc.

#pragma once

#include <napi.h>

namespace blit {

// landFiles(jobs, onDone): jobs = [{ dir, temp, name, data: Uint8Array, mode, mtimeSec, mtimeNsec,
// uid?, gid?, keep?, xattrs? }]; onDone(errnos: Int32Array, ownerErrnos: Int32Array, xattrInts:
// Int32Array) on the JS thread, one errno per job (0: landed), one owner outcome per job (-1: none
// given), four ints per job for its xattrs (xattrs attempted, errno, ACLs attempted, errno).
// `keep` (xattr.h kKeep*): the file's xattrs become `xattrs` ([[name, Uint8Array], ...], the
// source's) on the temp file, before its mode and its rename.
Napi::Value LandFiles(const Napi::CallbackInfo& info);

// writeRanges(ranges, onDone): ranges = [{ fd, offset, data: Uint8Array }], each written at its
// offset into its descriptor on the same threads; onDone(errnos: Int32Array), one errno per range.
Napi::Value WriteRanges(const Napi::CallbackInfo& info);

// readWholeFiles(paths: string[], listed: Float64Array, into: Uint8Array, onDone, root?): small files a
// sending side batches, read on the same threads (the pushing client's event loop spent ~25 µs a
// file on the five system calls). File i (listed[3i..3i+2]: its size, mtime seconds and
// nanoseconds) is read into `into` right after file i-1's bytes, by ReadWholeAt's steps (opened
// without following a last link, checked as listed, read, checked again, closed); onDone(answers:
// Int32Array) on the JS thread, ReadWholeAt's answer per file. `into` is held until then. With
// `root` ({ fd, path, walk? }: a directory and its real path), the paths are relative to it and
// resolved beneath it (a daemon's module; `walk`: never through openat2); the job holds a duplicate
// of fd, so the caller may close its own.
Napi::Value ReadWholeFiles(const Napi::CallbackInfo& info);

// sameAsManifestLater(path, entries, filterStatus, filterMet, refusedFileModes, onDone) -> boolean:
// manifest.h's sameAsManifest, the listing and comparison on these threads (see land.cc).
Napi::Value SameAsManifestLater(const Napi::CallbackInfo& info);

// landFiles jobs may carry `sparse: true` (the source has holes): the file's all-zero 4 KiB pages
// are punched into holes before its metadata is set (sparse.h PunchZeroPages).
//
// punchZeros(fd, size): the same for a received file written through fd (size bytes; fd open for
// reading and writing), on the calling thread; returns 0 or an errno (a file system that cannot
// punch holes: 0, left dense).
Napi::Value PunchZeros(const Napi::CallbackInfo& info);

// Whether no landing job owes this environment an answer (poolsIdle asks it too).
bool LandingIdle(napi_env env);

}  // namespace blit
