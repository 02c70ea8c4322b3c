// While the main thread turns one directory's listing into JavaScript objects and compares it, a
// background thread already reads the next ones (source and destination): on 2 cores this moves the
// getdents/lstat system calls off the main thread. Results are one-shot and keyed by path; listDir
// takes a finished one, waits for one in progress, or reads inline one not started. dropReadAhead()
// forgets everything (at the end of a scan, so no listing is ever used long after it was read).

#include "read_ahead.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "common.h"

namespace blit {

namespace {

constexpr size_t kReadAheadMax = 256;
constexpr int kReaders = 2;
// A push's tree read ahead from the launcher's first milliseconds starts one reader: the process is
// then loading its bundles on the other core. Two readers made three busy threads on two cores,
// and the client connected ~30 ms later (tmpfs push of 20,000 files, 32 alternating runs: 0.840 ->
// 0.805 s, docs/DECISIONS.md). The walk's own requests (readAhead, ListingWithin) start the second.
constexpr int kTreeReaders = 1;
// readAheadTree: at most this many directories, and entries listed in all, for one tree.
// The entries bound is checked before each listing starts, so it is passed by at most the listings
// in progress (kReaders).
constexpr size_t kTreeDirs = 1024;
constexpr size_t kTreeEntries = 100000;
// A tree's listing older than this when the walk comes to it is read again: the walk starts after
// the connection, which can wait on a prompt (a first contact's key), and a mirror must not be
// built from what the directory held then.
constexpr auto kTreeFresh = std::chrono::seconds(2);

struct ReadAheadSlot {
  bool started = false;
  bool done = false;
  // Part of a readAheadTree: once listed, its subdirectories are queued too.
  bool tree = false;
  std::chrono::steady_clock::time_point listedAt;
  Listed result;
};

// Never destroyed: the reader thread waits on the condition variable until the process ends, and a
// static one would block exit() in its destructor.
struct ReadAheadState {
  std::mutex lock;
  std::condition_variable work;  // readers wait for paths
  std::condition_variable done;  // listDir waits for a listing in progress
  std::deque<std::string> queue;
  std::unordered_map<std::string, std::shared_ptr<ReadAheadSlot>> slots;
  int readers = 0;  // threads started
  // What readAheadTree has queued since the last dropReadAhead, which also moves the generation on
  // (a listing in progress then queues nothing more).
  size_t treeDirs = 0;
  size_t treeEntries = 0;
  uint64_t generation = 0;
};

ReadAheadState& RA() {
  static ReadAheadState* state = new ReadAheadState();
  return *state;
}

void RequestLocked(ReadAheadState& ra, std::string path, bool first);
void ReadAheadThread();

// Starts reader threads until `count` run; the caller holds ra.lock.
void StartReadersLocked(ReadAheadState& ra, int count) {
  for (; ra.readers < count; ra.readers++) std::thread(ReadAheadThread).detach();
}

// A tree's directory was listed: its subdirectories go first in line, in listing order (the walk
// goes depth first), within the tree's bounds. Links are never followed (the listing's lstat).
void QueueSubdirsLocked(ReadAheadState& ra, const std::string& path, const Listed& listed) {
  ra.treeEntries += listed.items.size();
  std::string prefix = path.empty() || path.back() != '/' ? path + "/" : path;
  for (auto item = listed.items.rbegin(); item != listed.items.rend(); ++item) {
    if (item->kind != kDir) continue;
    if (ra.treeDirs >= kTreeDirs || ra.treeEntries >= kTreeEntries || ra.slots.size() >= kReadAheadMax) break;
    std::string child = prefix + item->name;
    if (ra.slots.count(child) != 0) continue;
    RequestLocked(ra, child, true);
    ra.slots[child]->tree = true;
    ra.treeDirs++;
  }
  ra.work.notify_all();
}

void ReadAheadThread() {
  ReadAheadState& ra = RA();
  std::unique_lock<std::mutex> lock(ra.lock);
  for (;;) {
    ra.work.wait(lock, [&] { return !ra.queue.empty(); });
    std::string path = std::move(ra.queue.front());
    ra.queue.pop_front();
    auto found = ra.slots.find(path);
    if (found == ra.slots.end() || found->second->started) continue;
    std::shared_ptr<ReadAheadSlot> slot = found->second;
    if (slot->tree && ra.treeEntries >= kTreeEntries) {
      // Past the tree's bounds: the walk lists it itself.
      ra.slots.erase(found);
      continue;
    }
    slot->started = true;
    const uint64_t generation = ra.generation;
    lock.unlock();
    Listed result = GatherDir(path);
    lock.lock();
    if (slot->tree && generation == ra.generation) QueueSubdirsLocked(ra, path, result);
    slot->result = std::move(result);
    slot->listedAt = std::chrono::steady_clock::now();
    slot->done = true;
    ra.done.notify_all();
  }
}

// Queues `path` for the readers (next in line with `first`) unless it is queued or read already;
// the caller holds ra.lock and notifies ra.work.
void RequestLocked(ReadAheadState& ra, std::string path, bool first) {
  auto found = ra.slots.find(path);
  if (found != ra.slots.end()) {
    // Queued and not started: move it to the front (the queue holds at most kReadAheadMax paths).
    if (!first || found->second->started) return;
    auto queued = std::find(ra.queue.begin(), ra.queue.end(), path);
    if (queued != ra.queue.end()) ra.queue.erase(queued);
    ra.queue.push_front(std::move(path));
    return;
  }
  ra.slots.emplace(path, std::make_shared<ReadAheadSlot>());
  if (first) ra.queue.push_front(std::move(path));
  else ra.queue.push_back(std::move(path));
}

}  // namespace

// readAhead(paths: string[]): queue these directories for the background reader (in order).
Napi::Value ReadAhead(const Napi::CallbackInfo& info) {
  auto paths = info[0].As<Napi::Array>();
  ReadAheadState& ra = RA();
  std::lock_guard<std::mutex> guard(ra.lock);
  StartReadersLocked(ra, kReaders);
  for (uint32_t i = 0; i < paths.Length() && ra.slots.size() < kReadAheadMax; i++)
    RequestLocked(ra, PathArg(paths.Get(i)), false);
  ra.work.notify_all();
  return info.Env().Undefined();
}

// Has a reader list `path` (asked for first in line, unless it is already), waiting up to waitMs:
// false when it is not done by then (the listing goes on; listDir takes it later).
bool ListingWithin(const std::string& path, int waitMs) {
  ReadAheadState& ra = RA();
  std::unique_lock<std::mutex> lock(ra.lock);
  StartReadersLocked(ra, kReaders);
  RequestLocked(ra, path, true);
  ra.work.notify_all();
  std::shared_ptr<ReadAheadSlot> slot = ra.slots.find(path)->second;
  return ra.done.wait_for(lock, std::chrono::milliseconds(waitMs), [&] { return slot->done; });
}

// readAheadTree(root): queue `root` for the readers, and each directory below it as its parent is
// listed, depth first, up to kTreeDirs directories and kTreeEntries entries.
Napi::Value ReadAheadTree(const Napi::CallbackInfo& info) {
  std::string root = PathArg(info[0]);
  ReadAheadState& ra = RA();
  std::lock_guard<std::mutex> guard(ra.lock);
  if (ra.slots.count(root) == 0 && ra.slots.size() < kReadAheadMax) {
    StartReadersLocked(ra, kTreeReaders);
    RequestLocked(ra, root, true);
    ra.slots[root]->tree = true;
    ra.treeDirs++;
    ra.work.notify_all();
  }
  return info.Env().Undefined();
}

// Tests only: how many listings are still to come and how many are done, not yet taken.
Napi::Value ReadAheadStatus(const Napi::CallbackInfo& info) {
  ReadAheadState& ra = RA();
  std::lock_guard<std::mutex> guard(ra.lock);
  uint32_t waiting = 0, listed = 0;
  for (const auto& [path, slot] : ra.slots) (slot->done ? listed : waiting)++;
  Napi::Object state = Napi::Object::New(info.Env());
  state.Set("waiting", Napi::Number::New(info.Env(), waiting));
  state.Set("listed", Napi::Number::New(info.Env(), listed));
  return state;
}

Napi::Value DropReadAhead(const Napi::CallbackInfo& info) {
  ReadAheadState& ra = RA();
  std::lock_guard<std::mutex> guard(ra.lock);
  ra.treeDirs = 0;
  ra.treeEntries = 0;
  ra.generation++;
  ra.queue.clear();
  // A listing in progress finishes into its slot, which nobody holds any more.
  ra.slots.clear();
  return info.Env().Undefined();
}

// The read-ahead result for path if there is one (waiting for it when in progress), else a fresh read.
Listed TakeListing(const std::string& path) {
  ReadAheadState& ra = RA();
  {
    std::unique_lock<std::mutex> lock(ra.lock);
    auto found = ra.slots.find(path);
    if (found != ra.slots.end()) {
      std::shared_ptr<ReadAheadSlot> slot = found->second;
      ra.slots.erase(found);
      if (slot->started) {
        ra.done.wait(lock, [&] { return slot->done; });
        if (!slot->tree || std::chrono::steady_clock::now() - slot->listedAt <= kTreeFresh)
          return std::move(slot->result);
        // Listed too long ago: read again, below.
      }
      // Not started: the queued path is skipped by the reader (its slot is gone); read it here.
    }
  }
  return GatherDir(path);
}

}  // namespace blit
