/**
 * `Transfer`: the session stream. The frames are defined (proto/blit.proto); running a session
 * over them is the next step of the remote work, so for now the stream ends at once with
 * UNIMPLEMENTED and the client says so in one line.
 */
import { type ServerDuplexStream, status } from '@grpc/grpc-js';
import type { TransferFrame } from '../generated/blit.js';
import type { Logger } from './logger.js';

export const TRANSFER_UNIMPLEMENTED = 'remote copy, mirror and move are not implemented by this blitd yet';

export function handleTransfer(call: ServerDuplexStream<TransferFrame, TransferFrame>, log: Logger): void {
  log.info({ rpc: 'transfer', peer: call.getPeer(), code: 'UNIMPLEMENTED' }, 'transfer refused');
  call.emit('error', { code: status.UNIMPLEMENTED, details: TRANSFER_UNIMPLEMENTED });
}
