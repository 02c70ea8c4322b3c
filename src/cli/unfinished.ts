/**
 * Node exits 0 once its event loop is empty, whether or not the command finished: a wait left with
 * nothing that can end it (a socket gone, a timer that does not hold the process) would pass for
 * success. Until `command` settles, an empty loop is an internal error instead: exit 1, one line.
 */
export function failIfUnfinished(command: Promise<unknown>, report: (line: string) => void): void {
  let finished = false;
  const done = () => {
    finished = true;
  };
  command.then(done, done);
  process.once('beforeExit', () => {
    if (finished) return;
    report('blit: internal error: the command stopped with its work unfinished\n');
    process.exitCode = 1;
  });
}
