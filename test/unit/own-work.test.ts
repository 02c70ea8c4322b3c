import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StallWatch } from '../../src/engine/stall-watch.js';
import { OwnWork } from '../../src/transport/own-work.js';
import { ActivityBoard, PAUSED } from '../../src/util/activity-board.js';

const paused = (board: ActivityBoard) => Atomics.load(board.ints, PAUSED) !== 0;

test('waiting for the peer pauses the stall detector only while nothing of its own is in flight', async () => {
  const board = new ActivityBoard();
  const work = new OwnWork(board);
  let answer!: () => void;
  const waiting = work.forPeer(new Promise<void>((resolve) => (answer = resolve)));
  assert.ok(paused(board), 'waiting with nothing in flight');
  const done = work.start('land: a');
  assert.ok(!paused(board), 'a landing in flight must answer');
  const beats = board.beats();
  done();
  assert.ok(board.beats() > beats, 'an answer is progress');
  assert.ok(paused(board), 'waiting again with nothing in flight');
  answer();
  await waiting;
  assert.ok(!paused(board), 'no longer waiting');
});

test('the board names the oldest work in flight', () => {
  const board = new ActivityBoard();
  const work = new OwnWork(board);
  const first = work.start('land: a');
  const second = work.start('write: b');
  assert.deepEqual(board.all(), ['land: a']);
  second();
  assert.deepEqual(board.all(), ['land: a']);
  const third = work.start('hash: c');
  first();
  assert.deepEqual(board.all(), ['hash: c']);
  third();
  third();
  assert.deepEqual(board.all(), []);
});

test('a pause held by a prompt outlasts the end of a wait for the peer (pauses are counted)', async () => {
  const board = new ActivityBoard();
  const work = new OwnWork(board);
  let answer!: () => void;
  const prompt = board.whilePaused(() => new Promise<void>((resolve) => (answer = resolve)));
  await work.forPeer(Promise.resolve());
  assert.ok(paused(board), 'the prompt still waits');
  answer();
  await prompt;
  assert.ok(!paused(board));
});

test('with a second flow, the board pauses only while every open flow waits for the peer', async () => {
  const board = new ActivityBoard();
  const main = new OwnWork(board);
  const walk = main.flow();
  walk.now('scan: listing d');
  let answerMain!: () => void;
  const mainWaits = main.forPeer(new Promise<void>((resolve) => (answerMain = resolve)));
  assert.ok(!paused(board), 'the walk still works');
  assert.deepEqual(board.all(), ['scan: listing d']);
  let answerWalk!: () => void;
  const walkWaits = walk.forPeer(new Promise<void>((resolve) => (answerWalk = resolve)));
  // A nested wait of one flow counts once for it.
  const nested = walk.forPeer(Promise.resolve());
  assert.ok(paused(board), 'both flows wait');
  await nested;
  assert.ok(paused(board), 'the walk still waits for its first');
  answerMain();
  await mainWaits;
  assert.ok(!paused(board), 'the main flow works again');
  answerWalk();
  await walkWaits;
  const again = main.forPeer(new Promise<void>(() => {}));
  assert.ok(!paused(board), 'the walk is open and not waiting');
  walk.close();
  assert.ok(paused(board), 'a closed flow no longer keeps the board going');
  assert.deepEqual(board.all(), [], "a closed flow's slot is cleared");
  void again;
});

test('a flow closed while it waits for the peer stops counting as waiting', async () => {
  const board = new ActivityBoard();
  const main = new OwnWork(board);
  const walk = main.flow();
  let answer!: () => void;
  const waits = walk.forPeer(new Promise<void>((resolve) => (answer = resolve)));
  walk.close();
  assert.ok(!paused(board), 'the main flow works');
  const mainWaits = main.forPeer(Promise.resolve());
  assert.ok(paused(board), 'the main flow alone waits');
  await mainWaits;
  answer();
  await waits;
  assert.ok(!paused(board));
});

test('without a board nothing is counted and waits pass through', async () => {
  const work = new OwnWork();
  work.start('land: a')();
  work.now('send: b');
  assert.equal(await work.forPeer(Promise.resolve(7)), 7);
});

test("a daemon's timer watch reports a stall with the board's work in flight, and a paused board never stalls", async (t) => {
  // The watch's timer does not keep a process alive; the test must.
  const alive = setInterval(() => {}, 1000);
  t.after(() => clearInterval(alive));
  const idle = new StallWatch(100, 'timer');
  const work = new OwnWork(idle.board);
  work.start('land: a');
  await assert.rejects(idle.stalled, {
    name: 'StallError',
    message: 'stalled: no progress for 0.1 s; in flight: land: a',
  });

  const waiting = new StallWatch(100, 'timer');
  let fired = false;
  waiting.stalled.catch(() => {
    fired = true;
  });
  const waited = new OwnWork(waiting.board).forPeer(new Promise((resolve) => setTimeout(resolve, 500)));
  await waited;
  waiting.stop();
  assert.equal(fired, false, 'waiting for the peer five times the time-out');
});
