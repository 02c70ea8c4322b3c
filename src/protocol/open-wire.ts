/**
 * A session's `Open` frame: the transfer options as the initiator sends them, and read back by the
 * responder, checked (globs compile, --files-from paths are relative, counts are bounded).
 */

import { PRESERVE_ALL } from '../engine/fidelity.js';
import { buildFilter, type PathFilter } from '../engine/filter.js';
import type { CompareMode, FilterSpec, Operation, TransferOptions } from '../engine/types.js';
import {
  type Filter,
  type Preserve,
  CompareMode as WireCompare,
  Operation as WireOperation,
} from '../generated/blit.js';
import { BlitError } from '../util/errors.js';
import { checkPeerRel, MAX_FILE_SIZE, ProtocolError } from './manifest-wire.js';

const OPERATIONS: [Operation, WireOperation][] = [
  ['copy', WireOperation.OPERATION_COPY],
  ['mirror', WireOperation.OPERATION_MIRROR],
  ['move', WireOperation.OPERATION_MOVE],
];
const COMPARES: [CompareMode, WireCompare][] = [
  ['default', WireCompare.COMPARE_MODE_DEFAULT],
  ['checksum', WireCompare.COMPARE_MODE_CHECKSUM],
  ['size-only', WireCompare.COMPARE_MODE_SIZE_ONLY],
  ['ignore-times', WireCompare.COMPARE_MODE_IGNORE_TIMES],
  ['ignore-existing', WireCompare.COMPARE_MODE_IGNORE_EXISTING],
];
/** Patterns and --files-from paths one session may carry. */
const MAX_PATTERNS = 10_000;
const MAX_FILES_FROM = 1_000_000;

export function toWireOperation(operation: Operation): WireOperation {
  return OPERATIONS.find(([local]) => local === operation)![1];
}

export function toWireCompare(compare: CompareMode): WireCompare {
  return COMPARES.find(([local]) => local === compare)![1];
}

export function toWireFilter(options: TransferOptions): Filter {
  const filter = options.filter;
  return {
    include: filter.include,
    exclude: filter.exclude,
    filesFrom: filter.filesFrom ?? [],
    hasFilesFrom: filter.filesFrom !== undefined,
    minSize: filter.minSize === undefined ? undefined : BigInt(filter.minSize),
    maxSize: filter.maxSize === undefined ? undefined : BigInt(filter.maxSize),
    deleteExcluded: options.deleteExcluded,
  };
}

/** The kinds the initiator turned off, as Open carries them. */
export function toWirePreserve(options: TransferOptions): Preserve {
  const preserve = options.preserve ?? PRESERVE_ALL;
  return {
    noOwner: !preserve.owner,
    noXattrs: !preserve.xattrs,
    noAcls: !preserve.acls,
    noHardLinks: !preserve.hardLinks,
    numericIds: preserve.numericIds,
  };
}

function size(value: bigint | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (value > BigInt(MAX_FILE_SIZE)) throw new ProtocolError('size limit out of range');
  return Number(value);
}

/**
 * The options an `Open` asks for, checked, with their filter built (a glob that does not compile
 * is refused now, in one line, not midway). Throws ProtocolError.
 */
export function fromWireOpen(open: {
  operation: WireOperation;
  compare: WireCompare;
  filter?: Filter;
  dryRun: boolean;
  preserve?: Preserve;
}): { options: TransferOptions; filter: PathFilter } {
  const operation = OPERATIONS.find(([, wire]) => wire === open.operation)?.[0];
  if (!operation) throw new ProtocolError(`unknown operation ${open.operation}`);
  const compare = COMPARES.find(([, wire]) => wire === open.compare)?.[0];
  if (!compare) throw new ProtocolError(`unknown compare mode ${open.compare}`);
  const wire = open.filter;
  if (
    wire &&
    (wire.include.length + wire.exclude.length > MAX_PATTERNS || wire.filesFrom.length > MAX_FILES_FROM)
  ) {
    throw new ProtocolError('too many filter patterns or --files-from paths');
  }
  const filter: FilterSpec = {
    include: wire?.include ?? [],
    exclude: wire?.exclude ?? [],
    minSize: size(wire?.minSize),
    maxSize: size(wire?.maxSize),
  };
  if (wire?.hasFilesFrom) {
    filter.filesFrom = wire.filesFrom.map((rel) => {
      if (rel === '') throw new ProtocolError('--files-from: empty path');
      return checkPeerRel(rel, '--files-from');
    });
  }
  let built: PathFilter;
  try {
    built = buildFilter(filter);
  } catch (error) {
    if (error instanceof BlitError) throw new ProtocolError(`filter: ${error.message}`);
    throw error;
  }
  const options: TransferOptions = {
    operation,
    compare,
    filter,
    dryRun: open.dryRun,
    deleteExcluded: wire?.deleteExcluded ?? false,
    preserve: {
      owner: !open.preserve?.noOwner,
      xattrs: !open.preserve?.noXattrs,
      acls: !open.preserve?.noAcls,
      hardLinks: !open.preserve?.noHardLinks,
      numericIds: Boolean(open.preserve?.numericIds),
    },
  };
  return { options, filter: built };
}
