/**
 * A file arriving from a peer, a chunk at a time: written to a temp file beside its target (created
 * exclusively, so nothing planted at the name is followed), never past the size the manifest
 * declared (docs/ARCHITECTURE.md, lesson 1), and installed by rename only once every declared
 * byte is in, its handle closed and its mode and mtime set (lesson 8). Anything else removes the
 * temp file.
 */
import { closeSync, constants, ftruncateSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { codeOf } from '../util/errors.js';
import type { DestinationFs, ParentDir } from './destination-fs.js';
import { applyMetadata } from './metadata.js';
import { nativeAddon, nativeErrnoError } from './native.js';
import { giveOwnerPath, type Owner, type OwnerResult } from './owner.js';
import { baseRel, parentRel } from './rel-path.js';
import { writeDataRuns } from './sparse-blocks.js';
import { tempName } from './temp-path.js';

export class ReceiveError extends Error {
  override readonly name = 'ReceiveError';
}

/**
 * How a temp file is created (with mode & 0o777): exclusively, so nothing planted at its name — a
 * file, a link to the outside — is opened or followed. fsops/land-files.ts creates them the same way.
 */
export const TEMP_FILE_FLAGS =
  constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** The same, readable too: a sparse source's file is read back for its zero pages (punchZeros). */
const SPARSE_TEMP_FILE_FLAGS = (TEMP_FILE_FLAGS & ~constants.O_WRONLY) | constants.O_RDWR;

/**
 * Gives a complete temp file, its write handle closed, its mode and mtime, then its final name
 * (renamed over what is there). Shared with fsops/land-files.ts.
 */
export function installTemp(
  temp: string,
  final: string,
  mode: number,
  mtimeNs: bigint,
  chmod = true,
  owner?: Owner,
): OwnerResult {
  // The owner before the mode: chown clears setuid and setgid bits. The temp file is ours (no link).
  const given = giveOwnerPath(temp, owner);
  applyMetadata(temp, 'file', mode, mtimeNs, chmod);
  renameSync(temp, final);
  return given;
}

export class FileReceiver {
  private fd: number | undefined;
  /** The directory the file lands in, held open from its first byte to its rename. */
  private parent: ParentDir | undefined;
  private tempName: string | undefined;
  /** Bytes written so far (holes included). */
  written = 0;
  /** A hole came (`hole`): the file is given its size at the end, its holes never written. */
  sparse = false;

  constructor(
    private readonly fs: DestinationFs,
    /** The final path, relative to the destination root. */
    readonly rel: string,
    /** The size the manifest declared: no more and no fewer bytes are accepted. */
    readonly size: number,
    private readonly mode: number,
    /** The owner to give the file (fsops/owner.ts). */
    private readonly owner?: Owner,
    /**
     * The source has holes (sparse-blocks.ts hasHoles): all-zero 4 KiB pages land as holes, punched
     * by the addon before install, or without it never written (sparse-blocks.ts writeDataRuns).
     */
    readonly sparseTarget = false,
  ) {}

  private open(): number {
    // A directory walked through (--include) is made only once something lands in it.
    let parent = this.fs.parentOf(this.rel);
    if (!parent) {
      this.fs.makeDirs(parentRel(this.rel));
      parent = this.fs.parentOf(this.rel);
      if (!parent) throw Object.assign(new Error('no such file or directory'), { code: 'ENOENT' });
    }
    this.parent = parent;
    this.tempName = tempName();
    const flags = this.sparseTarget ? SPARSE_TEMP_FILE_FLAGS : TEMP_FILE_FLAGS;
    try {
      this.fd = openSync(parent.path(this.tempName), flags, this.mode & 0o777);
    } catch (error) {
      if (codeOf(error) !== 'ENOENT') throw error;
      this.fs.makeDirs(parentRel(this.rel));
      this.fd = openSync(parent.path(this.tempName), flags, this.mode & 0o777);
    }
    return this.fd;
  }

  /** Appends a chunk that must start where the last one ended. */
  write(offset: number, data: Uint8Array): void {
    if (offset !== this.written) {
      throw new ReceiveError(`data out of order (offset ${offset}, expected ${this.written})`);
    }
    this.writeAt(offset, data);
  }

  /**
   * Writes a chunk at its place in the file, in any order (blocks of one file that came over
   * several sockets). The caller checks that ranges do not overlap.
   */
  writeAt(offset: number, data: Uint8Array): void {
    if (offset + data.length > this.size) {
      throw new ReceiveError(`the peer sent more than the ${this.size} bytes it declared`);
    }
    const fd = this.fd ?? this.open();
    if (this.sparseTarget && !nativeAddon()) writeDataRuns(fd, data, offset);
    else {
      let done = 0;
      while (done < data.length) done += writeSync(fd, data, done, data.length - done, offset + done);
    }
    this.written += data.length;
  }

  /**
   * `length` bytes at `offset` are a hole of a sparse source: nothing is written there, and the
   * file gets its declared size when it is finished. No further than declared; with `inOrder`
   * (FileData), only where the last chunk ended.
   */
  hole(offset: number, length: number, inOrder: boolean): void {
    if (inOrder && offset !== this.written) {
      throw new ReceiveError(`data out of order (hole at ${offset}, expected ${this.written})`);
    }
    if (!Number.isSafeInteger(length) || length < 1 || offset + length > this.size) {
      throw new ReceiveError(
        `a hole of ${length} bytes at ${offset} is beyond the ${this.size} bytes declared`,
      );
    }
    this.descriptor();
    this.written += length;
    this.sparse = true;
  }

  /** The temp file's descriptor (made on first use), for writes done elsewhere (see `wrote`). */
  descriptor(): number {
    return this.fd ?? this.open();
  }

  /** `length` bytes at `offset` were written through `descriptor()`; no more than declared. */
  wrote(offset: number, length: number): void {
    if (offset + length > this.size) {
      throw new ReceiveError(`the peer sent more than the ${this.size} bytes it declared`);
    }
    this.written += length;
  }

  /** Installs the file under its final name: every declared byte in, handle closed, metadata set. */
  finish(mtimeNs: bigint): OwnerResult {
    if (this.written !== this.size) {
      throw new ReceiveError(`the peer sent ${this.written} of the ${this.size} bytes it declared`);
    }
    const fd = this.fd ?? this.open();
    this.fd = undefined;
    try {
      // A hole at the end is the file's size, never written (nor zero runs skipped without the addon).
      if (this.sparse || this.sparseTarget) ftruncateSync(fd, this.size);
      if (this.sparseTarget) {
        // Zeros that came as data (whole files, chunks not all zero) become holes again.
        const addon = nativeAddon();
        const errno = addon ? addon.punchZeros(fd, this.size) : 0;
        if (errno !== 0) throw nativeErrnoError(addon!, errno);
      }
    } finally {
      closeSync(fd);
    }
    const owner = installTemp(
      this.parent!.path(this.tempName!),
      this.parent!.path(baseRel(this.rel)),
      this.mode,
      mtimeNs,
      true,
      this.owner,
    );
    this.tempName = undefined;
    this.parent!.close();
    this.parent = undefined;
    return owner;
  }

  /**
   * Drops the temp file's name but keeps its descriptor open: a write on it that may never answer
   * (a stalled disk) must not land in a file a reused descriptor number names. abort() closes it
   * once the write has answered. Never throws.
   */
  abandon(): void {
    if (this.tempName !== undefined) {
      try {
        unlinkSync(this.parent!.path(this.tempName));
      } catch {
        // never created, or gone
      }
      this.tempName = undefined;
    }
  }

  /** Drops the temp file, if one was made. Never throws. */
  abort(): void {
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // already closed
      }
      this.fd = undefined;
    }
    if (this.tempName !== undefined) {
      try {
        unlinkSync(this.parent!.path(this.tempName));
      } catch {
        // never created, or gone
      }
      this.tempName = undefined;
    }
    this.parent?.close();
    this.parent = undefined;
  }
}
