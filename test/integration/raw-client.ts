/**
 * A client of blitd's gRPC service that sends and receives raw bytes, for hostile-client tests:
 * requests no codec has checked. `methods` maps the client's method names to the service's
 * (`{ rawList: 'List' }`); Transfer is the bidirectional stream, the others are unary.
 */
import { type Client, credentials, makeGenericClientConstructor } from '@grpc/grpc-js';

export function rawBlitClient<Names extends string>(
  target: string,
  methods: Record<Names, 'Ping' | 'ListModules' | 'List' | 'Purge' | 'Space' | 'Transfer'>,
  options: object = {},
): Client & Record<Names, (...args: never[]) => unknown> {
  const identity = (bytes: Buffer) => bytes;
  const definition = Object.fromEntries(
    Object.entries<string>(methods).map(([name, method]) => [
      name,
      {
        path: `/blit.v1.Blit/${method}`,
        requestStream: method === 'Transfer',
        responseStream: method === 'Transfer',
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    ]),
  );
  const Raw = makeGenericClientConstructor(definition, 'raw');
  return new Raw(target, credentials.createInsecure(), options) as unknown as Client &
    Record<Names, (...args: never[]) => unknown>;
}
