// The data plane's sockets driven from the addon's own threads (see data_socket.cc): one thread per
// data socket reads records' headers into buffers, moves file bytes from the socket into a temp
// file (splice) and from a file into the socket (sendfile), so file data never crosses the JS
// thread. The TypeScript side decides every step; this file only carries them out.

#pragma once

#include <napi.h>

namespace blit {

// dataSocketOpen(fd, onDone) -> handle. Takes a duplicate of the connected socket `fd` (the caller
// keeps its own and stops reading it) and starts the socket's thread. Every command below answers
// once, in order, through onDone(result, errno, side): result a byte count, errno 0 or the failure,
// side 1 (the socket: the session fails) or 2 (the file: that file fails, the stream stays whole).
Napi::Value DataSocketOpen(const Napi::CallbackInfo& info);

// dataSocketRead(handle, into: Uint8Array, idleMs, whole = false): reads at least 1 byte and at most
// into.length; with `whole`, on until into is full (a batch's payload the peer has announced) or the
// peer closes (then what came). result 0: the peer closed. errno ETIMEDOUT: nothing arrived for idleMs
// (the caller decides; with `whole`, what came before is dropped).
Napi::Value DataSocketRead(const Napi::CallbackInfo& info);

// dataSocketReceive(handle, fileFd, offset, length, idleMs): moves exactly `length` bytes from the
// socket into fileFd at `offset`. A file that cannot be written (side 2): the bytes are still read
// and dropped, so the next record starts where it should.
Napi::Value DataSocketReceive(const Napi::CallbackInfo& info);

// dataSocketSend(handle, header: Uint8Array, fileFd, offset, length, idleMs): writes the header,
// then `length` bytes of fileFd from `offset`. A file that ends early or cannot be read (side 2)
// is padded with zeros to `length` (the record stays whole; the caller voids it with FAIL).
Napi::Value DataSocketSend(const Napi::CallbackInfo& info);

// dataSocketWrite(handle, data: Uint8Array, idleMs): writes all of data.
Napi::Value DataSocketWrite(const Napi::CallbackInfo& info);

// dataSocketTcpInfo(handle) -> { rttUs, rcvRttUs, sendBuffer, receiveBuffer } (TCP_INFO, SO_*BUF).
Napi::Value DataSocketTcpInfo(const Napi::CallbackInfo& info);

// dataSocketSetBuffer(handle, receive: boolean, bytes) -> the buffer's size now.
Napi::Value DataSocketSetBuffer(const Napi::CallbackInfo& info);

// dataSocketClose(handle, shutdown: boolean): the command running stops (ECANCELED), queued ones
// answer ECANCELED, the thread ends and closes its descriptors. shutdown: the connection is shut
// down too (the session failed); otherwise the peer sees the end once the caller closes its own.
Napi::Value DataSocketClose(const Napi::CallbackInfo& info);

}  // namespace blit
