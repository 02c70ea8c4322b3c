// systemd's readiness protocol (sd_notify) from the main process itself: Node has no AF_UNIX
// datagram sockets, and a helper process's message can be dropped by systemd < 254 when the helper
// is gone before systemd looks up whose it was (src/daemon/readiness.ts).

#pragma once

#include <napi.h>

namespace blit {

// sdNotify(socketPath, message): one datagram to $NOTIFY_SOCKET ('@' starts an abstract name).
// Throws a Node-style error (syscall socket, connect or sendto) when it cannot be sent.
Napi::Value SdNotify(const Napi::CallbackInfo& info);

}  // namespace blit
