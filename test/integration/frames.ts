/** Frames as the hostile peers of the protocol tests write them by hand. */
import {
  CompareMode,
  Direction,
  EntryKind,
  FilterStatus,
  type ManifestEntry,
  type Need,
  type Open,
  Operation,
  type TransferFrame,
  Entry as WireEntry,
} from '../../src/generated/blit.js';

export type Body = NonNullable<TransferFrame['body']>;

/** A manifest entry, included by the filters, with a fixed mtime and mode 0644. */
export function entry(name: string, kind: EntryKind, size = 0, linkTarget = ''): ManifestEntry {
  return {
    entry: WireEntry.fromPartial({
      name,
      kind,
      size: BigInt(size),
      mtimeNs: 1_500_000_000_000_000_000n,
      mode: 0o644,
      linkTarget,
    }),
    filterStatus: FilterStatus.FILTER_STATUS_INCLUDE,
    filterMet: 3,
  };
}

/** A whole directory's listing in one batch (or, with `last` false, one of its batches before the last). */
export function batch(directory: string, entries: ManifestEntry[], last = true): Body {
  return {
    $case: 'manifest',
    value: {
      directory,
      directoryEntry: entry('', EntryKind.ENTRY_KIND_DIRECTORY),
      entries,
      partial: false,
      last,
      unreadable: [],
    },
  };
}

/** A push's Open of a copy into `module`/`path`, data in the stream unless `overrides` say otherwise. */
export function open(module: string, path: string, overrides: Partial<Open> = {}): Body {
  return {
    $case: 'open',
    value: {
      operation: Operation.OPERATION_COPY,
      direction: Direction.DIRECTION_PUSH,
      module,
      path,
      contentsOnly: true,
      intoDirectory: false,
      compare: CompareMode.COMPARE_MODE_DEFAULT,
      filter: undefined,
      dryRun: false,
      allowDeletions: false,
      forceGrpcData: true,
      dataStreams: 0,
      singleEntry: false,
      listActions: false,
      ...overrides,
    },
  };
}

/** A destination's Summary: nothing done but what `counts` says. */
export function summary(counts: { skipped?: bigint; failed?: bigint } = {}): Body {
  return {
    $case: 'summary',
    value: {
      copied: 0n,
      skipped: counts.skipped ?? 0n,
      updated: 0n,
      deleted: 0n,
      failed: counts.failed ?? 0n,
      bytes: 0n,
      elapsedMs: 1n,
      scanComplete: true,
      deletionsWithheld: 0n,
      failures: [],
      fidelity: [],
    },
  };
}

/** A plain need (no hash first, no ranges) as a hostile destination writes it. */
export function need(fileId: bigint, path: string, size = 0n, mtimeNs = 0n): Need {
  return { fileId, path, hashFirst: false, blocks: [], destinationHash: Buffer.alloc(0), size, mtimeNs };
}
