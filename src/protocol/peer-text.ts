/**
 * Text a peer sent (reasons, paths in failures) is clipped where it is read: a hostile peer's
 * megabyte-long "reason" must not reach a log line or a terminal whole.
 */
export const MAX_PEER_TEXT = 1024;

export function clipPeerText(text: string): string {
  return text.length > MAX_PEER_TEXT ? `${text.slice(0, MAX_PEER_TEXT)}…` : text;
}
