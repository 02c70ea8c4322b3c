/**
 * blitd's functions are optimised by TurboFan only after four times V8's default budget of
 * interpreted work (67,584), as a remote client's are (bin/blit.js REMOTE_V8_FLAGS). A freshly
 * started blitd otherwise spent its first sessions compiling: TurboFan's threads took ~120 ms of a
 * pull of 20,000 small files in its second session, on a machine of two cores whose other work
 * (the sockets, the landings, the client) they took it from. Measured with a fresh blitd per six
 * sessions, its first session untimed (as the bench runs it): blitd's CPU for a push of 20,000
 * small files 0.55 -> 0.49 s, the push 0.755 -> 0.705 s; a pull 0.46 -> 0.44 s. A daemon past its
 * first sessions is not slower: sessions 31-70 of one blitd used 0.42 against 0.43 s
 * (docs/DECISIONS.md).
 *
 * Set once its modules have loaded: V8 checks Node's built-in code cache against the flags, and
 * the modules loaded before it keep that cache. The sessions' functions have not run yet, so each
 * takes its budget from the flag.
 */
import { setFlagsFromString } from 'node:v8';

const DAEMON_V8_FLAGS = '--interrupt-budget=270336';

export function tierUpLater(): void {
  setFlagsFromString(DAEMON_V8_FLAGS);
}
