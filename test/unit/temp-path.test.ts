import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { basename, dirname } from 'node:path';
import { describe, test } from 'node:test';
import {
  isStaleTempName,
  isTempName,
  seedTempNames,
  tempName,
  tempPathFor,
} from '../../src/fsops/temp-path.js';

describe('tempPathFor', () => {
  test('names a hidden .tmp file in the given directory, carrying this process id', () => {
    const path = tempPathFor('/data/dir');
    assert.equal(dirname(path), '/data/dir');
    const name = basename(path);
    assert.match(name, new RegExp(`^\\.blit-${process.pid}-[0-9a-f]{12}\\.tmp$`));
    assert.equal(isTempName(name), true);
  });

  test('each call gives a new name', () => {
    const names = new Set(Array.from({ length: 1000 }, () => tempPathFor('/d')));
    assert.equal(names.size, 1000);
  });

  test('the count carries from its low 24 bits into the high ones, and wraps after 48 bits', () => {
    const hex = (name: string) => /-([0-9a-f]{12})\.tmp$/.exec(name)![1];
    seedTempNames(0x00abcd, 0xfffffe);
    assert.deepEqual([tempName(), tempName(), tempName()].map(hex), [
      '00abcdffffff',
      '00abce000000',
      '00abce000001',
    ]);
    seedTempNames(0xffffff, 0xfffffe);
    assert.deepEqual([tempName(), tempName()].map(hex), ['ffffffffffff', '000000000000']);
  });

  test('tempName: the name alone, from the same sequence', () => {
    const names = [tempName(), basename(tempPathFor('/d')), tempName()];
    for (const name of names) assert.equal(isTempName(name), true, name);
    assert.equal(new Set(names).size, 3);
  });
});

describe('isTempName', () => {
  test('recognises only blit temp names', () => {
    assert.equal(isTempName('.blit-1234-0123456789ab.tmp'), true);
    for (const name of [
      'blit-1234-0123456789ab.tmp',
      '.blit-1234-0123456789ab',
      '.blit-1234-0123456789ab.tmp.bak',
      'x.blit-1234-0123456789ab.tmp',
      '.blit--0123456789ab.tmp',
      '.blit-abc-0123456789ab.tmp',
      '.blit-1234-0123456789a.tmp',
      '.blit-1234-0123456789abc.tmp',
      '.blit-1234-0123456789AB.tmp',
      '.blit-1234-0123456789ag.tmp',
      'file.tmp',
      '',
    ]) {
      assert.equal(isTempName(name), false, name);
    }
  });
});

describe('isStaleTempName', () => {
  const name = (pid: number) => `.blit-${pid}-00112233aabb.tmp`;

  test('a temp file whose writer is gone is stale', () => {
    const asked: number[] = [];
    const dead = (pid: number) => {
      asked.push(pid);
      return false;
    };
    assert.equal(isStaleTempName(name(424242), dead), true);
    assert.deepEqual(asked, [424242]);
  });

  test('a temp file whose writer still runs is not stale', () => {
    assert.equal(
      isStaleTempName(name(424242), () => true),
      false,
    );
  });

  test("this process's own temp files are never stale, whatever isAlive says", () => {
    let asked = false;
    const dead = () => {
      asked = true;
      return false;
    };
    assert.equal(isStaleTempName(name(process.pid), dead), false);
    assert.equal(isStaleTempName(basename(tempPathFor('/d')), dead), false);
    assert.equal(asked, false);
  });

  test('other names are never stale and no process is looked up', () => {
    let asked = false;
    const dead = () => {
      asked = true;
      return false;
    };
    for (const other of ['notes.txt', '.blit-12-xyz.tmp', '.blit-12-00112233aabb.tmp~', '']) {
      assert.equal(isStaleTempName(other, dead), false, other);
    }
    assert.equal(asked, false);
  });

  test('the default liveness check sees this process and its parent as alive', () => {
    assert.equal(isStaleTempName(name(process.ppid)), false);
  });

  test('the default liveness check sees a finished process as gone', () => {
    const child = spawnSync(process.execPath, ['-e', '0']);
    assert.equal(child.status, 0);
    assert.equal(isStaleTempName(name(child.pid!)), true);
  });
});
