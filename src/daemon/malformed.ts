/**
 * Requests that do not decode. grpc-js would answer them with a bare INTERNAL status; the daemon
 * decodes leniently instead and answers INVALID_ARGUMENT with the decoder's reason, from the
 * handler, where the call is also logged.
 */
const MALFORMED = Symbol('malformed');

export interface Malformed {
  [MALFORMED]: string;
}

export function isMalformed(value: unknown): value is Malformed {
  return typeof value === 'object' && value !== null && MALFORMED in value;
}

export function malformedReason(value: Malformed): string {
  return value[MALFORMED];
}

interface MethodDefinition {
  requestDeserialize: (bytes: Buffer) => unknown;
}

/** A copy of a generated service definition whose request decoders never throw. */
export function lenientService<T extends Record<string, MethodDefinition>>(service: T): T {
  const lenient: Record<string, MethodDefinition> = {};
  for (const [name, method] of Object.entries(service)) {
    lenient[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return method.requestDeserialize(bytes);
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          return { [MALFORMED]: reason } satisfies Malformed;
        }
      },
    };
  }
  return lenient as T;
}
