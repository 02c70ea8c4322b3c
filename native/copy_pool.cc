// Copy batches on plain native threads: no V8 isolate to start per thread (a worker thread costs
// ~60 ms of CPU to boot), no structured clone of jobs and outcomes, and not libuv's shared pool.
// Each thread says on the activity board (slot 1 + its index) which batch it runs. Like the
// watchdog, the threads may outlive the JS environment (a hung copy): the pool is never freed, and a
// cleanup hook marks the environment gone so no thread calls into it afterwards.

#include "copy_pool.h"

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "board.h"
#include "common.h"
#include "copy.h"
#include "land.h"
#include "whole_dir.h"

namespace blit {

namespace {

struct CopyPool {
  std::mutex lock;
  std::condition_variable changed;
  std::deque<std::unique_ptr<CopyBatch>> queue;
  bool stopping = false;
  bool gone = false;
  int inFlight = 0;  // main thread only
  Napi::ThreadSafeFunction tsfn;
  int32_t* beat = nullptr;
  int32_t* cancel = nullptr;
  int64_t* written = nullptr;
  int64_t* dirEntries = nullptr;
  int64_t* listed = nullptr;  // three: see t_listed
  uint8_t* slots = nullptr;
  size_t slotsLength = 0;
};

void CopyPoolThread(CopyPool* pool, size_t slot) {
  t_beat = pool->beat;
  t_cancel = pool->cancel;
  t_written = pool->written;
  t_dir_entries = pool->dirEntries;
  t_listed = pool->listed;
  std::unique_lock<std::mutex> lock(pool->lock);
  for (;;) {
    pool->changed.wait(lock, [&] { return !pool->queue.empty() || pool->stopping; });
    if (pool->queue.empty()) return;
    std::unique_ptr<CopyBatch> batch = std::move(pool->queue.front());
    pool->queue.pop_front();
    lock.unlock();
    auto show = [pool, slot](const std::string& text) { SetSlot(pool->slots, pool->slotsLength, slot, text); };
    show(batch->label);
    if (batch->dirJob) RunWholeDir(*batch->dirJob, batch->delayMs, show);
    else RunBatch(*batch, show);
    show("");
    Beat();
    lock.lock();
    if (pool->gone) return;
    CopyBatch* finished = batch.release();
    napi_status status = pool->tsfn.NonBlockingCall(finished, [pool](Napi::Env env, Napi::Function onDone, CopyBatch* b) {
      std::unique_ptr<CopyBatch> owned(b);
      // Abandoned (closeCopyPool with abandon): already unreferenced, nobody waits for the answer.
      if (pool->inFlight == 0) return;
      if (--pool->inFlight == 0) pool->tsfn.Unref(env);
      // A JS exception here surfaces as an uncaught exception (never silently lost); the one thrown
      // by process.exit while terminating is swallowed (NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS).
      onDone.Call({Napi::Number::New(env, owned->id),
                   owned->dirJob ? DirJobResult(env, *owned->dirJob) : BatchResult(env, *owned)});
    });
    if (status != napi_ok) delete finished;
  }
}

std::vector<CopyPool*>& CopyPools() {
  static auto* pools = new std::vector<CopyPool*>();
  return *pools;
}

}  // namespace

// startCopyPool(threads, beat?: Int32Array, written?: BigInt64Array (bytes, directory entries, then t_listed's three),
//               slots?: Uint8Array,
//               onDone(id, result)) -> pool number
Napi::Value StartCopyPool(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int threads = std::max(1, std::min(32, info[0].As<Napi::Number>().Int32Value()));
  auto* pool = new CopyPool();
  pool->beat = OptionalInt32s(info, 1);
  pool->cancel = CancelFlag(info, 1);
  pool->written = OptionalInt64s(info, 2, kCounterWritten);
  pool->dirEntries = OptionalInt64s(info, 2, kCounterDirEntries);
  pool->listed = OptionalInt64s(info, 2, kCounterListed + kListedCounters - 1)
                     ? OptionalInt64s(info, 2, kCounterListed)
                     : nullptr;
  if (info[3].IsTypedArray()) {
    auto slots = info[3].As<Napi::Uint8Array>();
    pool->slots = slots.Data();
    pool->slotsLength = slots.ByteLength();
    // The board lives as long as the process: keep it from being collected under the threads.
    new Napi::ObjectReference(Napi::Persistent(slots.As<Napi::Object>()));
  }
  for (size_t i = 1; i <= 2; i++) {
    if (info[i].IsTypedArray()) new Napi::ObjectReference(Napi::Persistent(info[i].As<Napi::Object>()));
  }
  pool->tsfn = Napi::ThreadSafeFunction::New(env, info[4].As<Napi::Function>(), "blit-copy-pool", 0, 1);
  pool->tsfn.Unref(env);
  napi_add_env_cleanup_hook(
      env,
      [](void* data) {
        auto* p = static_cast<CopyPool*>(data);
        std::lock_guard<std::mutex> guard(p->lock);
        p->gone = true;
        p->stopping = true;
        p->changed.notify_all();
      },
      pool);
  for (int i = 0; i < threads; i++) std::thread(CopyPoolThread, pool, static_cast<size_t>(i + 1)).detach();
  CopyPools().push_back(pool);
  return Napi::Number::New(env, static_cast<double>(CopyPools().size() - 1));
}

namespace {

CopyPool* PoolArg(const Napi::Value& value) {
  size_t index = static_cast<size_t>(value.As<Napi::Number>().Int64Value());
  if (index >= CopyPools().size()) throw Napi::Error::New(value.Env(), "no such copy pool");
  return CopyPools()[index];
}

// Refuses work for a pool that closeCopyPool ended.
void ThrowIfClosed(Napi::Env env, CopyPool* pool) {
  std::lock_guard<std::mutex> guard(pool->lock);
  if (pool->stopping) throw Napi::Error::New(env, "copy pool already closed");
}

// Queues a batch or directory job; its answer keeps the process alive until it is delivered.
void Enqueue(Napi::Env env, CopyPool* pool, std::unique_ptr<CopyBatch> batch) {
  if (pool->inFlight++ == 0) pool->tsfn.Ref(env);
  std::lock_guard<std::mutex> guard(pool->lock);
  pool->queue.push_back(std::move(batch));
  pool->changed.notify_one();
}

}  // namespace

// submitCopies(pool, id, batch, label, delayMs, hangIndex)
Napi::Value SubmitCopies(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CopyPool* pool = PoolArg(info[0]);
  ThrowIfClosed(env, pool);
  auto batch = std::make_unique<CopyBatch>(ParseBatch(info[2]));
  batch->id = info[1].As<Napi::Number>().Uint32Value();
  batch->label = info[3].As<Napi::String>().Utf8Value();
  batch->delayMs = info[4].As<Napi::Number>().Int32Value();
  batch->hangIndex = info[5].As<Napi::Number>().Int32Value();
  Enqueue(env, pool, std::move(batch));
  return env.Undefined();
}

// submitCopyDir(pool, id, src, dst, stage, rel, umask, delayMs, hangName, scanHang[, compare, mirror[, excludes
//               [, owners, hardLinks, xattrs, sparse[, xattrsFromMs, dstXattrsFromMs]]]]):
// a fresh-directory job (stage: the temp path it was made under), or with compare a directory on
// both sides (stage empty; see RunWholeDir); its answer comes to the pool's onDone like a batch's.
Napi::Value SubmitCopyDir(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CopyPool* pool = PoolArg(info[0]);
  ThrowIfClosed(env, pool);
  auto batch = std::make_unique<CopyBatch>();
  batch->id = info[1].As<Napi::Number>().Uint32Value();
  batch->dirJob = std::make_unique<DirJob>();
  DirJob& job = *batch->dirJob;
  job.src = PathArg(info[2]);
  job.dst = PathArg(info[3]);
  job.stage = PathArg(info[4]);
  job.rel = info[5].As<Napi::String>().Utf8Value();
  job.umask = info[6].As<Napi::Number>().Uint32Value();
  batch->delayMs = info[7].As<Napi::Number>().Int32Value();
  job.hangName = info[8].As<Napi::String>().Utf8Value();
  job.scanHang = info[9].ToBoolean();
  // syncDir: both sides exist; compare mode (kCompare*) and whether this is a mirror.
  if (info.Length() > 10 && info[10].IsNumber()) {
    job.sync = true;
    job.compare = info[10].As<Napi::Number>().Int32Value();
    job.mirror = info[11].ToBoolean();
  }
  if (info.Length() > 12 && info[12].IsArray()) {
    Napi::Array excludes = info[12].As<Napi::Array>();
    for (uint32_t i = 0; i < excludes.Length(); i++) job.excludes.push_back(ParseNamePattern(PathArg(excludes.Get(i))));
  }
  // Index 13: entries get the source's owner (owner.h).
  if (info.Length() > 13) job.owners = info[13].ToBoolean();
  // hardLinks: files with other names (link count above 1) go back to JavaScript (engine/hard-links.ts).
  if (info.Length() > 14) job.hardLinks = info[14].ToBoolean();
  // Index 15: the xattr kinds kept (xattr.h kKeep*); none when absent.
  if (info.Length() > 15 && info[15].IsNumber()) job.keepXattrs = info[15].As<Napi::Number>().Int32Value();
  // Index 16: keep holes of sparse files (sparse.h).
  if (info.Length() > 16) job.sparse = info[16].ToBoolean();
  // Index 17, 18: a sync job reads the xattrs only of entries changed since then (milliseconds since
  // the epoch, source then destination; 0 or absent: of all; perf/xattr-mark.ts).
  auto fromNs = [&info](size_t i) -> int64_t {
    if (info.Length() <= i || !info[i].IsNumber()) return 0;
    double ms = info[i].As<Napi::Number>().DoubleValue();
    return ms > 0 ? static_cast<int64_t>(ms) * 1000000LL : 0;
  };
  job.srcXattrsFromNs = fromNs(17);
  job.dstXattrsFromNs = fromNs(18);
  batch->label = "scan: listing " + (job.rel.empty() ? std::string(".") : job.rel);
  Enqueue(env, pool, std::move(batch));
  return env.Undefined();
}

// closeCopyPool(pool, abandon) -> ids of the dropped batches: batches not yet started are dropped; the threads end after the batch
// they run (a hung one never does; it is left). With abandon (after a stall) the batches still
// running no longer keep the process alive, and their answers are never delivered.
Napi::Value CloseCopyPool(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CopyPool* pool = PoolArg(info[0]);
  bool abandon = info.Length() > 1 && info[1].ToBoolean();
  std::vector<uint32_t> droppedIds;
  {
    std::lock_guard<std::mutex> guard(pool->lock);
    for (const auto& batch : pool->queue) droppedIds.push_back(batch->id);
    pool->queue.clear();
    pool->stopping = true;
    pool->changed.notify_all();
  }
  size_t dropped = droppedIds.size();
  Napi::Array ids = Napi::Array::New(env, dropped);
  for (size_t i = 0; i < dropped; i++) ids.Set(i, Napi::Number::New(env, droppedIds[i]));
  if (pool->inFlight == 0) return ids;
  int left = abandon ? 0 : pool->inFlight - static_cast<int>(std::min<size_t>(dropped, static_cast<size_t>(pool->inFlight)));
  pool->inFlight = left;
  if (left == 0) pool->tsfn.Unref(env);
  return ids;
}

// poolsIdle() -> whether no copy pool and no landing job (land.cc) owes an answer (a batch still
// running may have a temp file to remove before the process may end). Main thread only, like every
// pool's inFlight.
Napi::Value PoolsIdle(const Napi::CallbackInfo& info) {
  if (!LandingIdle(info.Env())) return Napi::Boolean::New(info.Env(), false);
  for (CopyPool* pool : CopyPools()) {
    if (pool->inFlight != 0) return Napi::Boolean::New(info.Env(), false);
  }
  return Napi::Boolean::New(info.Env(), true);
}

}  // namespace blit
