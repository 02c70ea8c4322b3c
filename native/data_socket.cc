// Data-plane sockets on the addon's own threads. On the pure-JS path a receiving blitd read each
// socket in 64 KiB chunks on its event loop and handed them to a writing thread (1.65 CPU s for a
// 1 GiB push against rsync's 0.67): here each data socket gets one thread of its own that carries
// out the steps the TypeScript side asks for, in order:
//
// - read: a record header (or a batch of small files) into a buffer JS gave, answered to JS;
// - receive: a large range's bytes from the socket into the temp file at their offset, by
//   splice(2) through a pipe (the socket's pages are moved, then copied once into the page cache;
//   recv + pwrite copies twice), with recv + pwrite where the file refuses splice;
// - send: a record header, then a file range by sendfile(2) (no copy through user space);
// - write: bytes JS built (a batch, an END record).
//
// The socket is a duplicate of the one Node holds, which has stopped reading it (the receiving
// side) or writes nothing meanwhile (the sending side); the records' rules all stay in TypeScript.
// Every wait is a poll(2) with the caller's idle time-out and an eventfd that close() signals, so
// no thread outlives its session: close() ends the step under way (ECANCELED) and the thread, which
// then answers what is still queued, closes its descriptors and releases its thread-safe function.
// Answers hold the command's buffers (references, released on the JS thread) until delivered.

#include "data_socket.h"

#include "common.h"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

namespace blit {

namespace {

constexpr int kSideSocket = 1;
constexpr int kSideFile = 2;
// The pipe a receive splices through: 1 MiB (Linux's default pipe-max-size), else what it allows.
constexpr int kPipeBytes = 1 << 20;
constexpr size_t kScratchBytes = 1 << 20;

enum class Kind { kRead, kReceive, kSend, kWrite };

struct Command {
  Kind kind;
  char* data = nullptr;  // read: into; send: the header; write: the bytes
  size_t size = 0;
  int file = -1;
  int64_t offset = 0;
  int64_t length = 0;
  int idleMs = 0;
  bool whole = false;  // read: until `size` bytes came (or the peer closed)
  Napi::ObjectReference hold;  // the buffer, alive until the answer (JS thread only)
  // The answer.
  int64_t result = 0;
  int err = 0;
  int side = 0;
};

struct Worker {
  int sock = -1;
  int wake = -1;
  int pipeRead = -1;
  int pipeWrite = -1;
  int pipeBytes = 0;
  std::vector<char> scratch;
  std::mutex lock;
  std::condition_variable changed;
  std::deque<Command*> queue;
  bool closing = false;
  // The environment is being torn down: its thread-safe function may be gone, never to be called.
  bool gone = false;
  // JS thread only.
  int inFlight = 0;
  bool closed = false;
  Napi::ThreadSafeFunction tsfn;
};

using WorkerPtr = std::shared_ptr<Worker>;

struct Handle {
  WorkerPtr worker;
};

// Waits until the socket is ready for `events`: 0, or ETIMEDOUT after idleMs of nothing, ECANCELED
// once close() signalled, or poll's errno. An error or hang-up on the socket counts as ready: the
// next call on it reports it.
int WaitFor(Worker& w, short events, int idleMs) {
  pollfd fds[2] = {{w.sock, events, 0}, {w.wake, POLLIN, 0}};
  for (;;) {
    int n = poll(fds, 2, idleMs);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return ETIMEDOUT;
    if (fds[1].revents != 0) return ECANCELED;
    return 0;
  }
}

bool Cancelled(Worker& w) {
  std::lock_guard<std::mutex> guard(w.lock);
  return w.closing;
}

void Fail(Command& c, int err, int side) {
  c.err = err;
  c.side = side;
}

// Writes all of data to the socket; false with the command failed on the socket's side.
bool SendAll(Worker& w, Command& c, const char* data, size_t size, int flags) {
  for (size_t done = 0; done < size;) {
    ssize_t n = send(w.sock, data + done, size - done, flags | MSG_NOSIGNAL);
    if (n >= 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      Fail(c, errno, kSideSocket);
      return false;
    }
    if (int err = WaitFor(w, POLLOUT, c.idleMs)) {
      Fail(c, err, kSideSocket);
      return false;
    }
  }
  return true;
}

// Reads at least 1 byte (0: the peer closed) and at most `size`; -1 with the command failed.
ssize_t RecvSome(Worker& w, Command& c, char* into, size_t size) {
  for (;;) {
    ssize_t n = recv(w.sock, into, size, 0);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      Fail(c, errno, kSideSocket);
      return -1;
    }
    if (int err = WaitFor(w, POLLIN, c.idleMs)) {
      Fail(c, err, kSideSocket);
      return -1;
    }
  }
}

void RunRead(Worker& w, Command& c) {
  size_t got = 0;
  do {
    ssize_t n = RecvSome(w, c, c.data + got, c.size - got);
    if (n < 0) return;
    if (n == 0) break;
    got += static_cast<size_t>(n);
  } while (c.whole && got < c.size);
  c.result = static_cast<int64_t>(got);
}

// The rest of a receive by recv + pwrite (a file that refuses splice), or the bytes dropped once
// the file failed (`fileErr` set). Counts into c.result.
void ReceiveBuffered(Worker& w, Command& c, int fileErr) {
  if (w.scratch.empty()) w.scratch.resize(kScratchBytes);
  while (c.result < c.length) {
    size_t want = static_cast<size_t>(std::min<int64_t>(c.length - c.result, kScratchBytes));
    ssize_t n = RecvSome(w, c, w.scratch.data(), want);
    if (n < 0) return;
    if (n == 0) {
      Fail(c, 0, kSideSocket);  // closed inside the range
      return;
    }
    if (fileErr == 0) {
      for (ssize_t done = 0; done < n;) {
        ssize_t m = pwrite(c.file, w.scratch.data() + done, static_cast<size_t>(n - done),
                           static_cast<off_t>(c.offset + c.result + done));
        if (m > 0) {
          done += m;
        } else if (m < 0 && errno == EINTR) {
          continue;
        } else {
          fileErr = m == 0 ? EIO : errno;
          break;
        }
      }
    }
    c.result += n;
  }
  if (fileErr != 0) Fail(c, fileErr, kSideFile);
}

bool OpenPipe(Worker& w) {
  if (w.pipeRead >= 0) return true;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  w.pipeRead = fds[0];
  w.pipeWrite = fds[1];
  fcntl(w.pipeWrite, F_SETPIPE_SZ, kPipeBytes);
  int size = fcntl(w.pipeWrite, F_GETPIPE_SZ);
  w.pipeBytes = size > 0 ? size : 65536;
  return true;
}

void RunReceive(Worker& w, Command& c) {
  if (!OpenPipe(w)) {
    ReceiveBuffered(w, c, 0);
    return;
  }
  off_t at = static_cast<off_t>(c.offset);
  int fileErr = 0;
  while (c.result < c.length) {
    // The pipe is empty here: fill it from the socket, then empty it into the file.
    size_t want = static_cast<size_t>(std::min<int64_t>(c.length - c.result, w.pipeBytes));
    ssize_t n = splice(w.sock, nullptr, w.pipeWrite, nullptr, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n == 0) {
      Fail(c, 0, kSideSocket);
      return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (int err = WaitFor(w, POLLIN, c.idleMs)) {
          Fail(c, err, kSideSocket);
          return;
        }
        continue;
      }
      if (errno == EINVAL) {
        // Nothing taken from the socket this time: the rest the buffered way.
        ReceiveBuffered(w, c, fileErr);
        return;
      }
      Fail(c, errno, kSideSocket);
      return;
    }
    for (ssize_t inPipe = n; inPipe > 0;) {
      ssize_t m;
      if (fileErr == 0) {
        m = splice(w.pipeRead, nullptr, c.file, &at, static_cast<size_t>(inPipe), SPLICE_F_MOVE);
        if (m <= 0) {
          if (m < 0 && errno == EINTR) continue;
          fileErr = m == 0 ? EIO : errno;
          // A file that takes no splice at all: what the pipe holds is written the plain way.
          if (fileErr == EINVAL && inPipe == n && c.result == 0) fileErr = 0;
          if (fileErr == 0) {
            if (w.scratch.empty()) w.scratch.resize(kScratchBytes);
            while (inPipe > 0) {
              ssize_t r = read(w.pipeRead, w.scratch.data(), static_cast<size_t>(std::min<ssize_t>(inPipe, kScratchBytes)));
              if (r <= 0) {
                Fail(c, r == 0 ? EIO : errno, kSideSocket);
                return;
              }
              for (ssize_t done = 0; done < r;) {
                ssize_t p = pwrite(c.file, w.scratch.data() + done, static_cast<size_t>(r - done), at);
                if (p <= 0) {
                  if (p < 0 && errno == EINTR) continue;
                  fileErr = p == 0 ? EIO : errno;
                  break;
                }
                done += p;
                at += p;
              }
              inPipe -= r;
              if (fileErr != 0) break;
            }
            c.result += n;
            ReceiveBuffered(w, c, fileErr);
            return;
          }
          continue;
        }
      } else {
        // The file failed: the pipe's bytes are dropped.
        if (w.scratch.empty()) w.scratch.resize(kScratchBytes);
        m = read(w.pipeRead, w.scratch.data(), static_cast<size_t>(std::min<ssize_t>(inPipe, kScratchBytes)));
        if (m <= 0) {
          if (m < 0 && errno == EINTR) continue;
          Fail(c, m == 0 ? EIO : errno, kSideSocket);
          return;
        }
      }
      inPipe -= m;
    }
    c.result += n;
    if (Cancelled(w)) {
      Fail(c, ECANCELED, kSideSocket);
      return;
    }
  }
  if (fileErr != 0) Fail(c, fileErr, kSideFile);
}

bool SocketErrno(int err) {
  return err == EPIPE || err == ECONNRESET || err == ENOTCONN || err == ECONNABORTED || err == ETIMEDOUT ||
         err == EHOSTUNREACH || err == ENETUNREACH || err == ENETDOWN;
}

void RunSend(Worker& w, Command& c) {
  if (!SendAll(w, c, c.data, c.size, c.length > 0 ? MSG_MORE : 0)) return;
  off_t at = static_cast<off_t>(c.offset);
  int fileErr = 0;
  while (c.result < c.length) {
    int64_t left = c.length - c.result;
    if (fileErr != 0) {
      // The file ended early or could not be read: zeros keep the record whole.
      if (w.scratch.size() < kScratchBytes) w.scratch.assign(kScratchBytes, 0);
      std::fill(w.scratch.begin(), w.scratch.end(), 0);
      size_t n = static_cast<size_t>(std::min<int64_t>(left, kScratchBytes));
      if (!SendAll(w, c, w.scratch.data(), n, 0)) return;
      c.result += static_cast<int64_t>(n);
      continue;
    }
    ssize_t n = sendfile(w.sock, c.file, &at, static_cast<size_t>(std::min<int64_t>(left, 1 << 30)));
    if (n > 0) {
      c.result += n;
      continue;
    }
    if (n == 0) {
      fileErr = ENODATA;  // the file is shorter than it was
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (int err = WaitFor(w, POLLOUT, c.idleMs)) {
        Fail(c, err, kSideSocket);
        return;
      }
      continue;
    }
    if (SocketErrno(errno)) {
      Fail(c, errno, kSideSocket);
      return;
    }
    if (errno == EINVAL || errno == ENOSYS) {
      // A file sendfile cannot read from: pread + send.
      if (w.scratch.size() < kScratchBytes) w.scratch.resize(kScratchBytes);
      size_t want = static_cast<size_t>(std::min<int64_t>(left, kScratchBytes));
      ssize_t r = pread(c.file, w.scratch.data(), want, at);
      if (r <= 0) {
        if (r < 0 && errno == EINTR) continue;
        fileErr = r == 0 ? ENODATA : errno;
        continue;
      }
      if (!SendAll(w, c, w.scratch.data(), static_cast<size_t>(r), 0)) return;
      at += r;
      c.result += r;
      continue;
    }
    fileErr = errno;
  }
  if (fileErr != 0) Fail(c, fileErr, kSideFile);
}

void RunWrite(Worker& w, Command& c) {
  if (SendAll(w, c, c.data, c.size, 0)) c.result = static_cast<int64_t>(c.size);
}

// On the JS thread: one command's answer.
void Deliver(Napi::Env env, Napi::Function onDone, Command* command, const WorkerPtr& worker) {
  std::unique_ptr<Command> c(command);
  c->hold.Reset();
  if (env == nullptr) return;
  Worker& w = *worker;
  if (--w.inFlight == 0) w.tsfn.Unref(env);
  onDone.Call({Napi::Number::New(env, static_cast<double>(c->result)), Napi::Number::New(env, c->err),
               Napi::Number::New(env, c->side)});
}

void Post(const WorkerPtr& worker, Command* c) {
  WorkerPtr keep = worker;
  std::lock_guard<std::mutex> guard(worker->lock);
  // Gone, or failing while the environment closes: the command is left (its reference is the env's).
  if (worker->gone) return;
  worker->tsfn.NonBlockingCall(
      c, [keep](Napi::Env env, Napi::Function onDone, Command* done) { Deliver(env, onDone, done, keep); });
}

void Run(WorkerPtr worker) {
  Worker& w = *worker;
  for (;;) {
    Command* c;
    {
      std::unique_lock<std::mutex> guard(w.lock);
      w.changed.wait(guard, [&] { return !w.queue.empty() || w.closing; });
      if (w.closing) break;
      c = w.queue.front();
      w.queue.pop_front();
    }
    switch (c->kind) {
      case Kind::kRead:
        RunRead(w, *c);
        break;
      case Kind::kReceive:
        RunReceive(w, *c);
        break;
      case Kind::kSend:
        RunSend(w, *c);
        break;
      case Kind::kWrite:
        RunWrite(w, *c);
        break;
    }
    Post(worker, c);
  }
  std::deque<Command*> left;
  {
    std::lock_guard<std::mutex> guard(w.lock);
    left.swap(w.queue);
  }
  for (Command* c : left) {
    Fail(*c, ECANCELED, kSideSocket);
    Post(worker, c);
  }
  std::lock_guard<std::mutex> guard(w.lock);
  close(w.sock);
  close(w.wake);
  if (w.pipeRead >= 0) close(w.pipeRead);
  if (w.pipeWrite >= 0) close(w.pipeWrite);
  w.sock = w.wake = w.pipeRead = w.pipeWrite = -1;
  if (!w.gone) w.tsfn.Release();
}

// Test hook (BLIT_TEST_NO_SOCKET_THREAD=1, read once): starting a socket's thread fails as it does
// at a task limit.
bool SocketThreadsRefusedForTests() {
  static const bool refused = EnvIsOne("BLIT_TEST_NO_SOCKET_THREAD");
  return refused;
}

// The socket's thread, started; throws (std::system_error, std::bad_alloc) when none can be.
void StartThread(const WorkerPtr& worker) {
  if (SocketThreadsRefusedForTests()) throw std::system_error(EAGAIN, std::generic_category(), "pthread_create");
  std::thread(Run, worker).detach();
}

// The environment's teardown (process exit, a worker ending) runs this before it frees the
// socket's thread-safe function (registered after it, so run before it): the thread stops using it.
void OnEnvGone(void* arg) {
  Worker& w = **static_cast<WorkerPtr*>(arg);
  std::lock_guard<std::mutex> guard(w.lock);
  w.gone = true;
  w.closing = true;
  w.changed.notify_one();
  if (w.wake >= 0) {
    uint64_t one = 1;
    ssize_t ignored = write(w.wake, &one, sizeof one);
    (void)ignored;
  }
}

Worker& WorkerArg(const Napi::CallbackInfo& info) {
  if (!info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), "data socket: not a handle");
  Handle* handle = info[0].As<Napi::External<Handle>>().Data();
  if (handle->worker->closed) throw Napi::Error::New(info.Env(), "data socket: closed");
  return *handle->worker;
}

int IdleArg(const Napi::CallbackInfo& info, size_t index) {
  int ms = info[index].As<Napi::Number>().Int32Value();
  return ms > 0 ? ms : -1;
}

void Queue(const Napi::CallbackInfo& info, Worker& w, std::unique_ptr<Command> c) {
  if (w.inFlight++ == 0) w.tsfn.Ref(info.Env());
  std::lock_guard<std::mutex> guard(w.lock);
  w.queue.push_back(c.release());
  w.changed.notify_one();
}

// A Uint8Array argument: the command points into it and holds it until answered.
void TakeBytes(const Napi::CallbackInfo& info, size_t index, Command& c) {
  Napi::Value value = info[index];
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(info.Env(), "data socket: bytes must be a Uint8Array");
  auto bytes = value.As<Napi::Uint8Array>();
  c.data = reinterpret_cast<char*>(bytes.Data());
  c.size = bytes.ByteLength();
  c.hold = Napi::Persistent(value.As<Napi::Object>());
}

void TakeRange(const Napi::CallbackInfo& info, size_t index, Command& c) {
  c.file = info[index].As<Napi::Number>().Int32Value();
  c.offset = info[index + 1].As<Napi::Number>().Int64Value();
  c.length = info[index + 2].As<Napi::Number>().Int64Value();
  if (c.file < 0 || c.offset < 0 || c.length < 0)
    throw Napi::TypeError::New(info.Env(), "data socket: descriptor, offset and length must not be negative");
}

}  // namespace

Napi::Value DataSocketOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber() || !info[1].IsFunction()) throw Napi::TypeError::New(env, "dataSocketOpen(fd, onDone)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  auto worker = std::make_shared<Worker>();
  worker->sock = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (worker->sock < 0) throw ErrnoError(env, errno, "dup", "");
  worker->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (worker->wake < 0) {
    int err = errno;
    close(worker->sock);
    throw ErrnoError(env, err, "eventfd", "");
  }
  // The duplicate shares the socket's O_NONBLOCK: every wait below is a poll.
  auto* hookArg = new WorkerPtr(worker);
  worker->tsfn = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "blit-data-socket", 0, 1,
                                               [hookArg](Napi::Env finalEnv) {
                                                 bool gone;
                                                 {
                                                   std::lock_guard<std::mutex> guard((*hookArg)->lock);
                                                   gone = (*hookArg)->gone;
                                                 }
                                                 if (!gone) napi_remove_env_cleanup_hook(finalEnv, OnEnvGone, hookArg);
                                                 delete hookArg;
                                               });
  napi_add_env_cleanup_hook(env, OnEnvGone, hookArg);
  worker->tsfn.Unref(env);
  // No thread to be had (EAGAIN at a task limit: a container's pids.max, systemd's TasksMax; or no
  // memory for its state): undone as the thread would undo it on its way out, and thrown to
  // JavaScript, whose caller keeps the socket on Node's own path. Uncaught, it would have ended the
  // process.
  auto noThread = [&](int err) {
    close(worker->sock);
    close(worker->wake);
    worker->sock = worker->wake = -1;
    worker->tsfn.Release();
    return ErrnoError(env, err, "pthread_create", "");
  };
  try {
    StartThread(worker);
  } catch (const std::system_error& error) {
    throw noThread(error.code().value());
  } catch (const std::exception&) {
    throw noThread(ENOMEM);
  }
  auto* handle = new Handle{worker};
  return Napi::External<Handle>::New(env, handle, [](Napi::Env, Handle* h) { delete h; });
}

Napi::Value DataSocketRead(const Napi::CallbackInfo& info) {
  Worker& w = WorkerArg(info);
  auto c = std::make_unique<Command>();
  c->kind = Kind::kRead;
  TakeBytes(info, 1, *c);
  if (c->size == 0) throw Napi::TypeError::New(info.Env(), "dataSocketRead: an empty buffer");
  c->idleMs = IdleArg(info, 2);
  c->whole = info.Length() > 3 && info[3].IsBoolean() && info[3].As<Napi::Boolean>().Value();
  Queue(info, w, std::move(c));
  return info.Env().Undefined();
}

Napi::Value DataSocketReceive(const Napi::CallbackInfo& info) {
  Worker& w = WorkerArg(info);
  auto c = std::make_unique<Command>();
  c->kind = Kind::kReceive;
  TakeRange(info, 1, *c);
  c->idleMs = IdleArg(info, 4);
  Queue(info, w, std::move(c));
  return info.Env().Undefined();
}

Napi::Value DataSocketSend(const Napi::CallbackInfo& info) {
  Worker& w = WorkerArg(info);
  auto c = std::make_unique<Command>();
  c->kind = Kind::kSend;
  TakeBytes(info, 1, *c);
  TakeRange(info, 2, *c);
  c->idleMs = IdleArg(info, 5);
  Queue(info, w, std::move(c));
  return info.Env().Undefined();
}

Napi::Value DataSocketWrite(const Napi::CallbackInfo& info) {
  Worker& w = WorkerArg(info);
  auto c = std::make_unique<Command>();
  c->kind = Kind::kWrite;
  TakeBytes(info, 1, *c);
  c->idleMs = IdleArg(info, 2);
  Queue(info, w, std::move(c));
  return info.Env().Undefined();
}

// What the kernel measured of the connection, and its buffers: { rttUs, rcvRttUs, sendBuffer,
// receiveBuffer }. On the JS thread, through the socket's descriptor (open until close()).
Napi::Value DataSocketTcpInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Worker& w = WorkerArg(info);
  struct tcp_info tcp;
  socklen_t length = sizeof tcp;
  std::memset(&tcp, 0, sizeof tcp);
  if (getsockopt(w.sock, IPPROTO_TCP, TCP_INFO, &tcp, &length) != 0) throw ErrnoError(env, errno, "getsockopt", "");
  int send = 0, receive = 0;
  socklen_t intLength = sizeof(int);
  if (getsockopt(w.sock, SOL_SOCKET, SO_SNDBUF, &send, &intLength) != 0) throw ErrnoError(env, errno, "getsockopt", "");
  intLength = sizeof(int);
  if (getsockopt(w.sock, SOL_SOCKET, SO_RCVBUF, &receive, &intLength) != 0)
    throw ErrnoError(env, errno, "getsockopt", "");
  Napi::Object result = Napi::Object::New(env);
  result.Set("rttUs", Napi::Number::New(env, tcp.tcpi_rtt));
  result.Set("rcvRttUs", Napi::Number::New(env, tcp.tcpi_rcv_rtt));
  result.Set("sendBuffer", Napi::Number::New(env, send));
  result.Set("receiveBuffer", Napi::Number::New(env, receive));
  return result;
}

// dataSocketSetBuffer(handle, receive: boolean, bytes): sets SO_RCVBUF or SO_SNDBUF (which ends the
// kernel's autotuning of that buffer; the kernel doubles the value and caps it at rmem_max /
// wmem_max) and returns what it now is.
Napi::Value DataSocketSetBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Worker& w = WorkerArg(info);
  int option = info[1].ToBoolean().Value() ? SO_RCVBUF : SO_SNDBUF;
  int bytes = info[2].As<Napi::Number>().Int32Value();
  if (bytes <= 0) throw Napi::TypeError::New(env, "dataSocketSetBuffer: bytes must be positive");
  if (setsockopt(w.sock, SOL_SOCKET, option, &bytes, sizeof bytes) != 0) throw ErrnoError(env, errno, "setsockopt", "");
  int now = 0;
  socklen_t length = sizeof now;
  if (getsockopt(w.sock, SOL_SOCKET, option, &now, &length) != 0) throw ErrnoError(env, errno, "getsockopt", "");
  return Napi::Number::New(env, now);
}

Napi::Value DataSocketClose(const Napi::CallbackInfo& info) {
  if (!info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), "data socket: not a handle");
  WorkerPtr worker = info[0].As<Napi::External<Handle>>().Data()->worker;
  Worker& w = *worker;
  if (w.closed) return info.Env().Undefined();
  w.closed = true;
  // Answers still due hold the process until delivered: the thread gives them at once (ECANCELED).
  // The thread closes its descriptors only once it sees `closing`: they are used before it is set.
  if (info[1].ToBoolean().Value()) shutdown(w.sock, SHUT_RDWR);
  uint64_t one = 1;
  ssize_t ignored = write(w.wake, &one, sizeof one);
  (void)ignored;
  {
    std::lock_guard<std::mutex> guard(w.lock);
    w.closing = true;
    w.changed.notify_one();
  }
  return info.Env().Undefined();
}

}  // namespace blit
