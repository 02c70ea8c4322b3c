// The same job as engine/stall-watchdog.ts, on a plain native thread: a worker thread costs ~60 ms of
// CPU to start (its own V8 isolate), a std::thread nothing. It reads the shared activity board
// (header: beats, stopped, paused; then 32 slots of 512 bytes: 2-byte length + UTF-8 text).

#include "watchdog.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "board.h"

// Node's own step of its exit that sets stdio back (src/node.cc), exported by the node binary but
// not declared in its headers; weak, so that an addon loaded by a Node without it still loads.
namespace node {
void ResetStdio() __attribute__((weak, visibility("default")));
}  // namespace node

namespace blit {

std::string StallMessage(const uint8_t* slots, size_t length, int timeoutMs) {
  std::string doing;
  for (size_t slot = 0; slot < kSlots && (slot + 1) * kSlotBytes <= length; slot++) {
    const uint8_t* base = slots + slot * kSlotBytes;
    size_t n = static_cast<size_t>(base[0]) | (static_cast<size_t>(base[1]) << 8);
    if (n == 0 || n > kSlotBytes - 2) continue;
    if (!doing.empty()) doing += "; ";
    doing.append(reinterpret_cast<const char*>(base + 2), n);
  }
  long tenths = (timeoutMs + 50) / 100;
  char seconds[32];
  if (tenths % 10 == 0) snprintf(seconds, sizeof(seconds), "%ld", tenths / 10);
  else snprintf(seconds, sizeof(seconds), "%ld.%ld", tenths / 10, tenths % 10);
  return std::string("stalled: no progress for ") + seconds + " s; " +
         (doing.empty() ? std::string("nothing in flight") : "in flight: " + doing);
}

namespace {

// The watchdog thread outlives the JS environment when the process ends normally: the environment's
// teardown frees the thread-safe function, so the thread must not touch it afterwards. A cleanup hook
// (registered after the function, so it runs before the function's own) marks the environment gone.
struct WatchdogLink {
  std::mutex lock;
  bool gone = false;
};

}  // namespace

// startWatchdog(header: Int32Array, slots: Uint8Array, timeoutMs, graceMs, onStall(message))
// Both arrays view one SharedArrayBuffer that lives as long as the process (references kept).
Napi::Value StartWatchdog(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto header = info[0].As<Napi::Int32Array>();
  auto slots = info[1].As<Napi::Uint8Array>();
  int timeoutMs = info[2].As<Napi::Number>().Int32Value();
  int graceMs = info[3].As<Napi::Number>().Int32Value();
  auto tsfn = Napi::ThreadSafeFunction::New(env, info[4].As<Napi::Function>(), "blit-stall-watchdog", 0, 1);
  tsfn.Unref(env);
  // Shared with the thread and the hook for the life of the process (one per transfer: never freed).
  auto* link = new WatchdogLink();
  napi_add_env_cleanup_hook(
      env,
      [](void* data) {
        auto* l = static_cast<WatchdogLink*>(data);
        std::lock_guard<std::mutex> guard(l->lock);
        l->gone = true;
      },
      link);
  new Napi::ObjectReference(Napi::Persistent(header.As<Napi::Object>()));
  new Napi::ObjectReference(Napi::Persistent(slots.As<Napi::Object>()));
  int32_t* ints = header.Data();
  const uint8_t* bytes = slots.Data();
  size_t length = slots.ByteLength();
  std::thread([=]() mutable {
    using Clock = std::chrono::steady_clock;
    // The board is JS memory: read it only under the link's lock while the environment is alive
    // (after teardown the SharedArrayBuffer may be gone).
    auto stopped = [&] { return __atomic_load_n(ints + kStopped, __ATOMIC_SEQ_CST) != 0; };
    auto alive = [&] {
      std::lock_guard<std::mutex> guard(link->lock);
      return !link->gone && !stopped();
    };
    int tick = std::max(10, std::min(250, timeoutMs / 4));
    int32_t lastBeats = __atomic_load_n(ints + kBeats, __ATOMIC_SEQ_CST);
    auto lastChange = Clock::now();
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(tick));
      std::string message;
      {
        std::lock_guard<std::mutex> guard(link->lock);
        if (link->gone || stopped()) break;
        int32_t beats = __atomic_load_n(ints + kBeats, __ATOMIC_SEQ_CST);
        if (beats != lastBeats || __atomic_load_n(ints + kPaused, __ATOMIC_SEQ_CST) != 0) {
          lastBeats = beats;
          lastChange = Clock::now();
          continue;
        }
        if (Clock::now() - lastChange < std::chrono::milliseconds(timeoutMs)) continue;
        message = StallMessage(bytes, length, timeoutMs);
        auto* copy = new std::string(message);
        // The queue is unbounded: this never blocks (so holding the lock is safe).
        napi_status status = tsfn.NonBlockingCall(copy, [](Napi::Env env, Napi::Function onStall, std::string* text) {
          std::unique_ptr<std::string> owned(text);
          // onStall may end the process itself: the termination process.exit throws through Call is
          // swallowed (NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS).
          onStall.Call({Napi::String::New(env, *owned)});
        });
        if (status != napi_ok) delete copy;
      }
      bool answered = false;
      for (int waited = 0; waited < graceMs; waited += tick) {
        std::this_thread::sleep_for(std::chrono::milliseconds(tick));
        if (!alive()) {
          answered = true;
          break;
        }
      }
      if (answered) break;
      // The main thread is stuck in a system call: end the process from here.
      std::string line = "blit: " + message + "\n";
      ssize_t ignored = write(2, line.data(), line.size());
      (void)ignored;
      _exit(1);
    }
    std::lock_guard<std::mutex> guard(link->lock);
    if (!link->gone) tsfn.Release();
  }).detach();
  return env.Undefined();
}

bool StdioResettable() {
  return node::ResetStdio != nullptr;
}

namespace {

// Whether one of fds 0-2 is a pipe or socket in non-blocking mode: Node's stream on it (made before
// the CLI could see it) leaves it so, and the next command sharing it would inherit that.
bool StdioPipeNonBlocking() {
  for (int fd = 0; fd <= 2; fd++) {
    struct stat st;
    if (fstat(fd, &st) != 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) continue;
    int flags = fcntl(fd, F_GETFL);
    if (flags != -1 && (flags & O_NONBLOCK) != 0) return true;
  }
  return false;
}

}  // namespace

// exitProcess(code, streamsMade): ends the whole process at once (the CLI after a transfer, to skip
// the runtime's teardown). Where Node's stdio streams were made (streamsMade), or a stdio pipe is
// left non-blocking, Node's stdio descriptors are first set back as Node's own exit would set them
// (each one's O_NONBLOCK as found at start, a terminal's mode: node::ResetStdio), where this Node
// exports that step (stdioResettable). Otherwise nothing is touched: a run that wrote only through
// plain writes leaves a terminal's mode to whoever set it (a pager reading its output).
Napi::Value ExitProcess(const Napi::CallbackInfo& info) {
  const int code = info[0].As<Napi::Number>().Int32Value();
  const bool streamsMade = info.Length() > 1 && info[1].ToBoolean().Value();
  if (StdioResettable() && (streamsMade || StdioPipeNonBlocking())) node::ResetStdio();
  _exit(code);
}

}  // namespace blit
