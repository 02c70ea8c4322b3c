import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { configDir, historyPath, settingsPath } from '../../src/perf/config-paths.js';
import { disabledByEnv, historyEnabled, readSettings, writeSettings } from '../../src/perf/settings.js';
import { tempDir } from '../helpers.js';

describe('config paths', () => {
  test('$XDG_CONFIG_HOME/blit, else ~/.config/blit', () => {
    assert.equal(historyPath({ XDG_CONFIG_HOME: '/x/conf' }), '/x/conf/blit/perf_local.jsonl');
    assert.equal(settingsPath({ XDG_CONFIG_HOME: '/x/conf' }), '/x/conf/blit/perf_settings.json');
    assert.equal(configDir({ HOME: '/home/u' }), '/home/u/.config/blit');
    assert.equal(configDir({}), join(homedir(), '.config', 'blit'));
  });

  test('a relative or empty $XDG_CONFIG_HOME is ignored, as the XDG spec says', () => {
    assert.equal(configDir({ XDG_CONFIG_HOME: 'rel/conf', HOME: '/h' }), '/h/.config/blit');
    assert.equal(configDir({ XDG_CONFIG_HOME: '', HOME: '/h' }), '/h/.config/blit');
  });
});

describe('perf settings', () => {
  test('recording is on by default and survives a missing or broken settings file', (t) => {
    const dir = tempDir(t);
    assert.deepEqual(readSettings(join(dir, 'none.json')), { enabled: true });
    writeFileSync(join(dir, 'bad.json'), '{"enabled": "no"');
    assert.deepEqual(readSettings(join(dir, 'bad.json')), { enabled: true });
  });

  test('disable and enable persist in the config directory', (t) => {
    const env = { XDG_CONFIG_HOME: tempDir(t) };
    assert.equal(historyEnabled(env), true);
    writeSettings(settingsPath(env), { enabled: false });
    assert.equal(historyEnabled(env), false);
    assert.deepEqual(readSettings(settingsPath(env)), { enabled: false });
    writeSettings(settingsPath(env), { enabled: true });
    assert.equal(historyEnabled(env), true);
  });

  test('BLIT_DISABLE_PERF_HISTORY=1 disables it for one run without touching the settings', (t) => {
    const dir = tempDir(t);
    mkdirSync(join(dir, 'blit'));
    const env = { XDG_CONFIG_HOME: dir, BLIT_DISABLE_PERF_HISTORY: '1' };
    assert.equal(disabledByEnv(env), true);
    assert.equal(historyEnabled(env), false);
    assert.equal(readSettings(settingsPath(env)).enabled, true);
    assert.equal(disabledByEnv({ BLIT_DISABLE_PERF_HISTORY: '0' }), false);
    assert.equal(disabledByEnv({ BLIT_DISABLE_PERF_HISTORY: '' }), false);
    assert.equal(disabledByEnv({}), false);
  });
});
