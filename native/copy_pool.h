// The copy pool: copy batches and whole-directory jobs on plain native threads (see copy_pool.cc).

#pragma once

#include <napi.h>

namespace blit {

// startCopyPool(threads, beat?, written?, slots?, onDone(id, result)) -> pool number
Napi::Value StartCopyPool(const Napi::CallbackInfo& info);

// submitCopies(pool, id, batch, label, delayMs, hangIndex)
Napi::Value SubmitCopies(const Napi::CallbackInfo& info);

// submitCopyDir(pool, id, src, dst, stage, rel, umask, delayMs, hangName, scanHang[, compare, mirror[, excludes]])
Napi::Value SubmitCopyDir(const Napi::CallbackInfo& info);

// closeCopyPool(pool, abandon) -> ids of the dropped batches
Napi::Value CloseCopyPool(const Napi::CallbackInfo& info);

// poolsIdle() -> whether no copy pool and no landing job (land.h) owes an answer
Napi::Value PoolsIdle(const Napi::CallbackInfo& info);

}  // namespace blit
