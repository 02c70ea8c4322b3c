// See huge_buffer.h.

#include "huge_buffer.h"

#include <sys/mman.h>

#include <cstdint>

namespace blit {

namespace {

constexpr size_t kHugePage = 2u << 20;
// Far above any slab: a request beyond it is a caller's mistake, not a reason to map gigabytes.
constexpr size_t kMaxBytes = 256u << 20;

void Unmap(Napi::Env env, uint8_t* data, size_t* bytes) {
  munmap(data, *bytes);
  Napi::MemoryManagement::AdjustExternalMemory(env, -static_cast<int64_t>(*bytes));
  delete bytes;
}

}  // namespace

Napi::Value HugeBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "hugeBuffer(bytes)");
  double requested = info[0].As<Napi::Number>().DoubleValue();
  if (!(requested > 0) || requested > static_cast<double>(kMaxBytes) ||
      static_cast<double>(static_cast<size_t>(requested)) != requested ||
      static_cast<size_t>(requested) % kHugePage != 0) {
    throw Napi::RangeError::New(env, "hugeBuffer: bytes must be a positive multiple of 2 MiB, at most 256 MiB");
  }
  size_t bytes = static_cast<size_t>(requested);
  // Mapped one huge page larger, then trimmed to the first 2 MiB boundary inside.
  size_t mapped = bytes + kHugePage;
  void* raw = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return env.Undefined();
  uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  uintptr_t aligned = (start + kHugePage - 1) & ~(static_cast<uintptr_t>(kHugePage) - 1);
  if (aligned > start) munmap(raw, aligned - start);
  size_t tail = (start + mapped) - (aligned + bytes);
  if (tail > 0) munmap(reinterpret_cast<void*>(aligned + bytes), tail);
  auto* data = reinterpret_cast<uint8_t*>(aligned);
#ifdef MADV_HUGEPAGE
  // Advice only: where the kernel has no huge pages the buffer is ordinary memory.
  madvise(data, bytes, MADV_HUGEPAGE);
#endif
  auto* hint = new size_t(bytes);
  Napi::Buffer<uint8_t> buffer;
  try {
    buffer = Napi::Buffer<uint8_t>::New(env, data, bytes, Unmap, hint);
  } catch (const Napi::Error&) {
    // Refused (a runtime without external buffers): nothing leaks, the caller allocates as usual.
    munmap(data, bytes);
    delete hint;
    return env.Undefined();
  }
  Napi::MemoryManagement::AdjustExternalMemory(env, static_cast<int64_t>(bytes));
  return buffer;
}

}  // namespace blit
