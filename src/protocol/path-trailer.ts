/**
 * How a refusal names the path it concerns: blitd puts the module-relative path in a `blit-path`
 * trailer (percent-encoded, as metadata values must be ASCII) and the client names it the way the
 * user writes remote paths.
 */
import { Metadata } from '@grpc/grpc-js';

const PATH_TRAILER = 'blit-path';

export function pathTrailer(path: string): Metadata {
  const metadata = new Metadata();
  metadata.set(PATH_TRAILER, encodeURIComponent(path));
  return metadata;
}

/** The path a failed call's trailers name, if any. */
export function trailerPath(metadata: Metadata | undefined): string | undefined {
  const value = metadata?.get(PATH_TRAILER)[0];
  if (typeof value !== 'string') return undefined;
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}
