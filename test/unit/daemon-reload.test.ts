/**
 * daemon/reload.ts and daemon/readiness.ts, without a daemon: what a reload applies and what it
 * keeps, when it refuses a file, and how notifications are written and their failures reported.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import type { DaemonConfig, ModuleConfig } from '../../src/daemon/config.js';
import { LiveConfig } from '../../src/daemon/live-config.js';
import { notifyMessage, systemdReadiness } from '../../src/daemon/readiness.js';
import { mergeReload, reloadConfig } from '../../src/daemon/reload.js';
import { BlitError } from '../../src/util/errors.js';

const ALICE = `SHA256:${'A'.repeat(43)}`;

function module(extra: Partial<ModuleConfig> = {}): ModuleConfig {
  return { name: 'm', path: '/srv/m', readOnly: false, comment: '', ...extra };
}

function config(extra: Partial<DaemonConfig> = {}): DaemonConfig {
  return { bind: '127.0.0.1', port: 9031, motd: '', logLevel: 'info', modules: [module()], ...extra };
}

/** A logger whose lines are kept as parsed objects. */
function capturingLogger() {
  const lines: { level: number; msg: string; [key: string]: unknown }[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { log: pino({ level: 'info' }, stream), lines };
}

describe('mergeReload', () => {
  test('modules, motd and log level come from the new file', () => {
    const next = config({ motd: 'new', logLevel: 'debug', modules: [module({ name: 'n', readOnly: true })] });
    assert.deepEqual(mergeReload(config(), next), { config: next, notApplied: [] });
  });

  test('restart-only settings keep their running values and are named as in the file', () => {
    const running = config({ tls: true, stateDir: '/var/lib/blitd' });
    const next = config({
      bind: '0.0.0.0',
      port: 1,
      tls: false,
      dataTls: false,
      certFile: '/c.pem',
      keyFile: '/k.pem',
      motd: 'new',
    });
    const { config: merged, notApplied } = mergeReload(running, next);
    assert.deepEqual(notApplied, ['bind', 'port', 'tls', 'data_tls', 'cert', 'key', 'state_dir']);
    assert.deepEqual(merged, { ...running, motd: 'new' });
    assert.ok(!('dataTls' in merged) && !('certFile' in merged), 'unset stays unset');
  });
});

describe('mergeReload: the metrics address', () => {
  test('the same address read again is no change; another one is restart-only', () => {
    const running = config({ metrics: { host: '127.0.0.1', port: 9100 } });
    const same = mergeReload(running, config({ metrics: { host: '127.0.0.1', port: 9100 } }));
    assert.deepEqual(same.notApplied, []);
    const moved = mergeReload(running, config({ metrics: { host: '127.0.0.1', port: 9200 } }));
    assert.deepEqual(moved.notApplied, ['metrics']);
    assert.deepEqual(moved.config.metrics, { host: '127.0.0.1', port: 9100 });
    assert.deepEqual(mergeReload(config(), running).notApplied, ['metrics']);
  });
});

describe('reloadConfig', () => {
  test('applies the new configuration and its log level; one info line', () => {
    const live = new LiveConfig(config());
    const { log, lines } = capturingLogger();
    const next = config({ logLevel: 'debug', modules: [module({ name: 'n' })] });
    assert.equal(
      reloadConfig(live, () => next, log),
      true,
    );
    assert.deepEqual(live.current, next);
    assert.equal(log.level, 'debug');
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['reloaded'],
    );
  });

  test('turned down to warn: the reload is still logged, and nothing at info after it', () => {
    const live = new LiveConfig(config());
    const { log, lines } = capturingLogger();
    assert.equal(
      reloadConfig(live, () => config({ logLevel: 'warn' }), log),
      true,
    );
    log.info('after');
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['reloaded'],
    );
    assert.equal(log.level, 'warn');
  });

  test('a file that does not load changes nothing: one error line with its message', () => {
    const running = config();
    const live = new LiveConfig(running);
    const { log, lines } = capturingLogger();
    const ok = reloadConfig(
      live,
      () => {
        throw new BlitError("/etc/blit/config.toml:7: unknown key 'x' in [daemon]");
      },
      log,
    );
    assert.equal(ok, false);
    assert.equal(live.current, running);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.level, 50);
    assert.equal(
      lines[0]!.msg,
      "reload refused, the configuration is unchanged: /etc/blit/config.toml:7: unknown key 'x' in [daemon]",
    );
  });

  test('an unexpected failure is one error line too, and blitd serves on', () => {
    const running = config();
    const live = new LiveConfig(running);
    const { log, lines } = capturingLogger();
    const ok = reloadConfig(
      live,
      () => {
        throw new TypeError('boom\nat somewhere');
      },
      log,
    );
    assert.equal(ok, false);
    assert.equal(live.current, running);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.msg, 'reload refused, the configuration is unchanged: internal error: boom');
  });

  test('the security rules hold for what would run: TLS kept on, a new writable module needs an allow list', () => {
    const running = config({ bind: '0.0.0.0', modules: [module({ allow: [ALICE] })] });
    const live = new LiveConfig(running);
    const { log, lines } = capturingLogger();
    // The file turned TLS off on loopback (valid on its own); TLS stays on, so this module is refused.
    assert.equal(
      reloadConfig(live, () => config({ tls: false }), log),
      false,
    );
    assert.equal(live.current, running);
    assert.match(lines[0]!.msg, /module 'm' is writable but has no allow list/);
  });

  test('restart-only changes: one warning, then the info line', () => {
    const live = new LiveConfig(config());
    const { log, lines } = capturingLogger();
    assert.equal(
      reloadConfig(live, () => config({ dataTls: false }), log),
      true,
    );
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg]),
      [
        [40, 'not applied until blitd restarts: data_tls (kept as running)'],
        [30, 'reloaded'],
      ],
    );
    assert.equal(live.current.dataTls, undefined);
  });
});

describe('readiness', () => {
  test('one KEY=VALUE a line; a newline in a value cannot start another', () => {
    assert.equal(notifyMessage({ READY: '1', STATUS: 'a\nWATCHDOG=1' }), 'READY=1\nSTATUS=a WATCHDOG=1');
  });

  test('without NOTIFY_SOCKET nothing is sent', () => {
    const { log } = capturingLogger();
    const sent: string[] = [];
    systemdReadiness({}, log, (_path, message) => sent.push(message)).notify({ READY: '1' });
    assert.deepEqual(sent, []);
  });

  test('sends to $NOTIFY_SOCKET; a failure is one warning, once, never thrown', () => {
    const { log, lines } = capturingLogger();
    const sent: [string, string][] = [];
    let fail = false;
    const readiness = systemdReadiness({ NOTIFY_SOCKET: '@blit-test' }, log, (path, message) => {
      if (fail) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      sent.push([path, message]);
    });
    readiness.notify({ READY: '1', STATUS: 'listening' });
    fail = true;
    readiness.notify({ STOPPING: '1' });
    readiness.notify({ STOPPING: '1' });
    assert.deepEqual(sent, [['@blit-test', 'READY=1\nSTATUS=listening']]);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!.msg, /^cannot notify systemd through @blit-test: /);
  });
});
