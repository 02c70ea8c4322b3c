// Reading a file's bytes for the data plane's sender, checked: see read_checked.cc.

#pragma once

#include <napi.h>

namespace blit {

// readChecked(fd, into: Uint8Array, offset, size, mtimeSec, mtimeNsec) -> 0 | -1 | errno: fills
// `into` from fd at `offset`, then fstat: -1 when the file ended early or is no longer a regular
// file of `size` bytes with that mtime (it changed while read), else 0; an errno when a read or
// the fstat failed. On the calling thread.
Napi::Value ReadChecked(const Napi::CallbackInfo& info);

}  // namespace blit
