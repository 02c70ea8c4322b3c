/**
 * Socket buffers sized to the bandwidth-delay product the data sockets measure. Linux grows both
 * buffers of a connection on its own, up to the third field of net.ipv4.tcp_wmem / tcp_rmem:
 * enough for any path where throughput × round trip stays below that. blit leaves autotuning
 * alone there (setting a buffer ends it for that socket), and on a longer, fatter path, where the
 * product with headroom is beyond the autotuning limit, sets the buffer itself through the addon
 * (Node has no setter). Measured throughput is capped by the buffer in use, so each measurement
 * can ask for up to twice as much: the buffer grows until throughput stops following it.
 */
import { readFileSync } from 'node:fs';

/** Buffer = this × the bandwidth-delay product (room for the window to grow past one RTT). */
export const BDP_HEADROOM = 2;
/** No buffer is set beyond this (the kernel caps it at net.core.[rw]mem_max anyway). */
export const MAX_SOCKET_BUFFER = 64 << 20;
/** Where autotuning's limit cannot be read (not Linux): the kernel default of tcp_wmem's. */
const DEFAULT_AUTOTUNE_MAX = 4 << 20;

export interface PathMeasure {
  /** Bytes this socket moved per second over the last window. */
  bytesPerSecond: number;
  /** The kernel's smoothed round-trip time, in microseconds. */
  rttUs: number;
}

/**
 * The buffer to set for a socket, or undefined to leave it as it is: autotuning covers the
 * product, or the buffer is already as large.
 */
export function bufferFor(measure: PathMeasure, current: number, autotuneMax: number): number | undefined {
  if (!(measure.rttUs > 0) || !(measure.bytesPerSecond > 0)) return undefined;
  const product = (measure.bytesPerSecond * measure.rttUs) / 1_000_000;
  const wanted = Math.min(MAX_SOCKET_BUFFER, Math.ceil(product * BDP_HEADROOM));
  if (wanted <= autotuneMax || wanted <= current) return undefined;
  return wanted;
}

const limits = new Map<string, number>();

/** Autotuning's limit for the send or the receive buffer (net.ipv4.tcp_wmem / tcp_rmem, third field). */
export function autotuneMax(receive: boolean): number {
  const name = receive ? 'tcp_rmem' : 'tcp_wmem';
  let limit = limits.get(name);
  if (limit === undefined) {
    try {
      limit = Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().split(/\s+/)[2]);
    } catch {
      limit = Number.NaN;
    }
    if (!(limit > 0)) limit = DEFAULT_AUTOTUNE_MAX;
    limits.set(name, limit);
  }
  return limit;
}
