// Buffers in transparent huge pages: a receiving socket's 4 MiB read buffers (slabs) are written
// first by the kernel's copy from the socket, and on the VMs measured each fresh 4 KiB page costs
// a ~10 µs fault there. Mapped at a 2 MiB boundary and advised MADV_HUGEPAGE, a slab faults in two
// 2 MiB pages instead of ~1,000 small ones (src/transport/tcp/slab-pool.ts).

#pragma once

#include <napi.h>

namespace blit {

// hugeBuffer(bytes): a Buffer of `bytes` (a positive multiple of 2 MiB) mapped at a 2 MiB boundary
// and advised for huge pages, unmapped when the garbage collector frees it; undefined when the
// memory cannot be mapped (the caller allocates as usual). Its contents start as zeros.
Napi::Value HugeBuffer(const Napi::CallbackInfo& info);

}  // namespace blit
