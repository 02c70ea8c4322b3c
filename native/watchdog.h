// The stall watchdog on a plain native thread, and ending the process from any thread.

#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace blit {

// The stall message for the activity board's slots (engine/stall-watchdog.ts stallMessage).
std::string StallMessage(const uint8_t* slots, size_t length, int timeoutMs);

// startWatchdog(header: Int32Array, slots: Uint8Array, timeoutMs, graceMs, onStall(message))
Napi::Value StartWatchdog(const Napi::CallbackInfo& info);

// exitProcess(code): ends the whole process at once, from any thread.
Napi::Value ExitProcess(const Napi::CallbackInfo& info);
// Whether exitProcess can set Node's stdio descriptors back before it ends the process (this Node
// exports that step of its exit).
bool StdioResettable();

}  // namespace blit
