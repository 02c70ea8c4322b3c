/**
 * Ping's kind probes: the kinds a client's path rules will ask of the daemon, answered with the
 * handshake, so that a transfer opens without a List call per path first (a round trip each, and
 * List's read of a whole directory's names where a path is one).
 *
 * Each is answered as List would answer it, under List's access rule. What List would refuse or
 * fail on (a module the caller may not use, a path it does not accept, an unreadable directory) is
 * answered "not known": the client then asks List, whose refusal says why.
 */
import { status } from '@grpc/grpc-js';
import type { KindProbe, ProbedKind } from '../generated/blit.js';
import { EntryKind } from '../generated/blit.js';
import { MAX_KIND_PROBES } from '../protocol/handshake.js';
import type { ModuleConfig } from './config.js';
import { kindInModule } from './list-handler.js';
import { RpcError } from './rpc-error.js';

const NOT_KNOWN: ProbedKind = { known: false, missing: false, kind: EntryKind.ENTRY_KIND_UNSPECIFIED };

/**
 * One answer per probe, in order; `moduleFor` refuses a module the caller may not use. Those past
 * the first MAX_KIND_PROBES are not known (the handshake of a client that asks more still goes on).
 */
export function answerProbes(probes: KindProbe[], moduleFor: (name: string) => ModuleConfig): ProbedKind[] {
  return probes.map((probe, i) => {
    if (i >= MAX_KIND_PROBES) return NOT_KNOWN;
    let module: ModuleConfig;
    try {
      module = moduleFor(probe.module);
    } catch {
      return NOT_KNOWN;
    }
    try {
      return { known: true, missing: false, kind: kindInModule(module, probe.path, probe.follow) };
    } catch (error) {
      if (error instanceof RpcError && error.code === status.NOT_FOUND) {
        return { known: true, missing: true, kind: EntryKind.ENTRY_KIND_UNSPECIFIED };
      }
      return NOT_KNOWN;
    }
  });
}
