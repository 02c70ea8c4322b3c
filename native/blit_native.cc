// blit's optional native fast path (Linux and other POSIX systems). This file gathers what the
// module exports; each concern lives in its own file:
//
// - listing.cc: listDir, readdir + fstatat (+ readlinkat) of a whole directory in one call;
//   read_ahead.cc: reader threads that list the next directories meanwhile; manifest.cc:
//   listManifest, a directory listed straight into the manifest entries a push sends.
// - copy.cc: copyFiles, a batch of file copies done entirely in C++ (temp file, copy_file_range or
//   pread/pwrite, nanosecond times, rename); setTimes (Node's utimes lands on microseconds).
// - whole_dir.cc: whole-directory jobs (list, compare, copy a directory on a copy thread).
// - copy_pool.cc: the native threads that run batches and directory jobs, never libuv's pool.
// - land.cc: landFiles, whole files received in memory landed on two native threads of its own;
//   readWholeFiles, a sending side's small files read on the same threads (read_checked.cc);
//   freshLand, the small files of a directory this session made, from fresh.cc's table.
// - fresh.cc: freshFiles, a peer's listing of such a directory read into that table, and its needs.
// - data_socket.cc: data-plane sockets read, received into files (splice) and sent (sendfile) on a
//   thread per socket.
// - huge_buffer.cc: hugeBuffer, read buffers mapped for transparent huge pages.
// - uring.cc: a thread's io_uring, batching the landing threads' reads of small files;
//   uringUsable says whether this process has one, uringRuns how many batches its rings ran.
// - notify.cc: sdNotify, systemd's readiness datagram sent from the main process.
// - watchdog.cc: the stall watchdog's thread; exitProcess.
// - prefault.cc: V8's heap pages made present as V8 commits them (installed as the module loads).
// - board.h: the activity board as those threads see it; common.h: errors, paths, names.
// - test_rules.cc: the rules shared with TypeScript, one case at a time, for the tests.
//
// Errors are reported as Node-style errors (code, errno, syscall, path) so the JavaScript side
// can treat them exactly like fs errors.

#include <napi.h>

#include "beneath.h"
#include <cstdint>
#include <initializer_list>
#include <utility>

#include "board.h"
#include "common.h"
#include "copy.h"
#include "copy_pool.h"
#include "data_socket.h"
#include "fresh.h"
#include "prefault.h"
#include "land.h"
#include "stage.h"
#include "listing.h"
#include "uring.h"
#include "manifest.h"
#include "huge_buffer.h"
#include "notify.h"
#include "read_ahead.h"
#include "read_checked.h"
#include "special_file.h"
#include "test_rules.h"
#include "watchdog.h"
#include "whole_dir.h"
#include "xattr.h"

namespace blit {

namespace {

// The numbers the addon and the TypeScript side exchange, exported once so that TypeScript reads
// them here instead of copying them (fsops/native.ts NativeCodes).
Napi::Object FrozenCodes(Napi::Env env, std::initializer_list<std::pair<const char*, int64_t>> codes) {
  Napi::Object object = Napi::Object::New(env);
  for (const auto& code : codes) object.Set(code.first, Napi::Number::New(env, static_cast<double>(code.second)));
  object.Freeze();
  return object;
}

Napi::Object Codes(Napi::Env env) {
  Napi::Object codes = Napi::Object::New(env);
  codes.Set("kind", FrozenCodes(env, {{"file", kFile}, {"dir", kDir}, {"symlink", kSymlink}, {"other", kOther},
                                      {"gone", kGone}, {"error", kError}}));
  codes.Set("status", FrozenCodes(env, {{"copied", kCopied}, {"failed", kFailed}, {"changed", kChanged},
                                        {"sourceKept", kCopiedSourceKept}, {"unchanged", kUnchanged},
                                        {"updated", kUpdated}}));
  codes.Set("stage", FrozenCodes(env, {{"source", kStageSource}, {"destination", kStageDest}}));
  codes.Set("batchFlag", FrozenCodes(env, {{"chmodAfter", kChmodAfter}, {"removeSource", kRemoveSource},
                                           {"compareFirst", kCompareFirst}, {"metadataMatches", kMetadataMatches},
                                           {"keepXattrs", kBatchKeepXattrs}, {"keepAcls", kBatchKeepAcls},
                                           {"sparse", kSparse}}));
  codes.Set("xattrOutcome", FrozenCodes(env, {{"xattrsApplied", kXattrsApplied}, {"xattrsFailed", kXattrsFailed},
                                              {"aclsApplied", kAclsApplied}, {"aclsFailed", kAclsFailed}}));
  codes.Set("problem", FrozenCodes(env, {{"name", kProblemName}, {"target", kProblemTarget}, {"stat", kProblemStat},
                                         {"copy", kProblemCopy}, {"link", kProblemLink}, {"mkdir", kProblemMkdir},
                                         {"meta", kProblemMeta}, {"place", kProblemPlace}}));
  codes.Set("compare", FrozenCodes(env, {{"default", kCompareDefault}, {"size-only", kCompareSizeOnly},
                                         {"ignore-times", kCompareIgnoreTimes}, {"checksum", kCompareChecksum},
                                         {"ignore-existing", kCompareIgnoreExisting}}));
  codes.Set("board", FrozenCodes(env, {{"beats", kBeats}, {"stopped", kStopped}, {"paused", kPaused},
                                       {"cancelled", kCancelled}, {"written", kCounterWritten},
                                       {"dirEntries", kCounterDirEntries}, {"listed", kCounterListed},
                                       {"listedCounters", kListedCounters}, {"slotBytes", kSlotBytes},
                                       {"slots", kSlots}}));
  codes.Set("wholeRead", FrozenCodes(env, {{"read", kWholeRead}, {"notAsListed", kNotAsListed},
                                           {"changed", kChangedWhileRead}, {"readFailedBase", kReadFailedBase}}));
  codes.Freeze();
  return codes;
}

}  // namespace

}  // namespace blit

namespace {

using namespace blit;

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallPrefault();
  // prefaultState(): tests only (and BLIT_DEBUG_PREFAULT=1 in bin/blit.js).
  exports.Set("prefaultState", Napi::Function::New(env, PrefaultState));
  exports.Set("exitProcess", Napi::Function::New(env, ExitProcess));
  exports.Set("stdioResettable", Napi::Boolean::New(env, StdioResettable()));
  exports.Set("poolsIdle", Napi::Function::New(env, PoolsIdle));
  exports.Set("startWatchdog", Napi::Function::New(env, StartWatchdog));
  exports.Set("listDir", Napi::Function::New(env, ListDir));
  exports.Set("listManifest", Napi::Function::New(env, ListManifest));
  exports.Set("setIdNames", Napi::Function::New(env, SetIdNames));
  exports.Set("sameAsManifest", Napi::Function::New(env, SameAsManifest));
  exports.Set("sameAsManifestLater", Napi::Function::New(env, SameAsManifestLater));
  exports.Set("makeSpecial", Napi::Function::New(env, MakeSpecialJs));
  // setChangeSource(path): tests only (BLIT_TEST_CHANGE_SOURCE): the copy of path sees it change.
  exports.Set("setChangeSource", Napi::Function::New(env, SetChangeSource));
  // setListingHang(path): tests only (BLIT_TEST_HANG=scan:REL on the walk): listing path hangs.
  exports.Set("setListingHang", Napi::Function::New(env, SetListingHang));
  exports.Set("readAhead", Napi::Function::New(env, ReadAhead));
  exports.Set("readAheadTree", Napi::Function::New(env, ReadAheadTree));
  exports.Set("readAheadState", Napi::Function::New(env, ReadAheadStatus));
  exports.Set("dropReadAhead", Napi::Function::New(env, DropReadAhead));
  exports.Set("readXattrs", Napi::Function::New(env, ReadXattrsJs));
  exports.Set("setXattrs", Napi::Function::New(env, SetXattrsJs));
  exports.Set("setTimes", Napi::Function::New(env, SetTimes));
  exports.Set("copyFiles", Napi::Function::New(env, CopyFiles));
  exports.Set("submitCopyDir", Napi::Function::New(env, SubmitCopyDir));
  exports.Set("startCopyPool", Napi::Function::New(env, StartCopyPool));
  exports.Set("submitCopies", Napi::Function::New(env, SubmitCopies));
  exports.Set("closeCopyPool", Napi::Function::New(env, CloseCopyPool));
  exports.Set("landFiles", Napi::Function::New(env, LandFiles));
  exports.Set("setFreshIds", Napi::Function::New(env, SetFreshIds));
  exports.Set("freshFiles", Napi::Function::New(env, FreshFiles));
  exports.Set("freshNeeds", Napi::Function::New(env, FreshNeeds));
  exports.Set("freshEntry", Napi::Function::New(env, FreshEntry));
  exports.Set("freshLand", Napi::Function::New(env, FreshLand));
  exports.Set("placeStaged", Napi::Function::New(env, PlaceStaged));
  exports.Set("writeRanges", Napi::Function::New(env, WriteRanges));
  exports.Set("readWholeFiles", Napi::Function::New(env, ReadWholeFiles));
  exports.Set("punchZeros", Napi::Function::New(env, PunchZeros));
  exports.Set("readChecked", Napi::Function::New(env, ReadChecked));
  exports.Set("openedAsListed", Napi::Function::New(env, OpenedAsListed));
  exports.Set("dataSocketOpen", Napi::Function::New(env, DataSocketOpen));
  exports.Set("dataSocketRead", Napi::Function::New(env, DataSocketRead));
  exports.Set("dataSocketReceive", Napi::Function::New(env, DataSocketReceive));
  exports.Set("dataSocketSend", Napi::Function::New(env, DataSocketSend));
  exports.Set("dataSocketWrite", Napi::Function::New(env, DataSocketWrite));
  exports.Set("dataSocketClose", Napi::Function::New(env, DataSocketClose));
  exports.Set("dataSocketTcpInfo", Napi::Function::New(env, DataSocketTcpInfo));
  exports.Set("dataSocketSetBuffer", Napi::Function::New(env, DataSocketSetBuffer));
  exports.Set("errnoName", Napi::Function::New(env, ErrnoName));
  exports.Set("sdNotify", Napi::Function::New(env, SdNotify));
  exports.Set("hugeBuffer", Napi::Function::New(env, HugeBuffer));
  Uring::ReadSettings();
  exports.Set("uringUsable", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), Uring::ForThisThread() != nullptr);
  }));
  exports.Set("uringRuns", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(Uring::RunsSoFar()));
  }));
  exports.Set("testRules", TestRules(env));
  exports.Set("codes", Codes(env));
  blit_beneath::Register(env, exports);
  exports.Set("abiVersion", Napi::Number::New(env, 47));
  return exports;
}

}  // namespace

NODE_API_MODULE(blit_native, Init)
