/**
 * Text a peer sent is bounded and made harmless where it is read: a hostile peer's megabyte-long
 * "reason" must not reach a log line or a terminal whole, nor its escape sequences a terminal.
 * Clipped text is copied, so the peer's whole string is not kept alive behind the clip.
 */
export const MAX_PEER_TEXT = 1024;

/** Text bounded to MAX_PEER_TEXT characters (a refusal that quotes what a peer sent, say). */
export function clip(text: string): string {
  if (text.length <= MAX_PEER_TEXT) return text;
  return Buffer.from(`${text.slice(0, MAX_PEER_TEXT)}…`).toString();
}

/** A reason or message from a peer: clipped, control characters shown as \xNN. */
export function peerText(text: string): string {
  return clip(text).replace(
    /[\x00-\x1f\x7f-\x9f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/** A path from a peer: clipped (names may hold any character; showPath escapes them for display). */
export function peerPath(path: string): string {
  return clip(path);
}
