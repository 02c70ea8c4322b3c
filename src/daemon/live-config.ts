/**
 * The one owner of blitd's configuration while it runs. A reload (SIGHUP, reload.ts) swaps in a new
 * configuration; every call reads `current` once when it starts (a Transfer once its Open arrives)
 * and keeps that snapshot to its end, so a session in flight finishes under the rules it began with
 * and the next call sees the new ones.
 */
import type { DaemonConfig } from './config.js';

export class LiveConfig {
  constructor(private config: DaemonConfig) {}

  get current(): DaemonConfig {
    return this.config;
  }

  replace(next: DaemonConfig): void {
    this.config = next;
  }
}
