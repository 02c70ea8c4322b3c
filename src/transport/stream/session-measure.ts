/**
 * What a remote session's half measures for perf history: the same SessionStats a local session
 * fills, with the executor named after what happened (the data went over the stream, or nothing
 * needed sending).
 */
import { emptySessionStats, type SessionStats } from '../../engine/session-stats.js';

export function sessionStats(): SessionStats {
  return { ...emptySessionStats(), workers: 1 };
}

/** The stats as perf history takes them once the session is over. */
export function finished(stats: SessionStats): SessionStats {
  stats.executor = stats.jobs > 0 ? 'pool' : 'none';
  return stats;
}
