/**
 * Fresh memory for buffers a socket's thread fills or sends, in transparent huge pages where the
 * addon can map them (native/huge_buffer.cc). On the VMs measured the first write to a fresh 4 KiB
 * page costs ~12.8 µs, so a fresh 1 MiB buffer costs ~3.3 ms of faults; a 2 MiB huge page takes one
 * fault for the lot (docs/DECISIONS.md, "Send buffers in huge pages").
 */

import { nativeAddon } from '../../fsops/native.js';

/** The huge page size the addon maps at (x86-64 and arm64 with 4 KiB pages). */
export const HUGE_PAGE_BYTES = 2 << 20;

/**
 * Buffers of `size` bytes made at once: the views of one mapping of whole huge pages (as many as
 * fit, at least one), or one plain buffer where there is no addon or the mapping fails. They share
 * their memory (`buffer`), each at its own `byteOffset`, a multiple of `size`.
 */
export function hugeBuffers(size: number): Buffer[] {
  const bytes = Math.ceil(size / HUGE_PAGE_BYTES) * HUGE_PAGE_BYTES;
  const mapping = nativeAddon()?.hugeBuffer(bytes);
  if (!mapping) return [Buffer.allocUnsafeSlow(size)];
  if (size === bytes) return [mapping];
  const buffers: Buffer[] = [];
  for (let at = 0; at + size <= bytes; at += size) buffers.push(mapping.subarray(at, at + size));
  return buffers;
}
