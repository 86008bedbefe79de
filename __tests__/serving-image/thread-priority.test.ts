import { readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';

/** Nice value of a thread, field 19 of /proc/<pid>/task/<tid>/stat (after the parenthesised name). */
function niceOf(statPath: string): number {
  const fields = readFileSync(statPath, 'utf8')
    .replace(/^.*\) /s, '')
    .split(' ');
  return Number(fields[16]);
}

const linux = process.platform === 'linux' ? describe : describe.skip;

linux('lowerThreadPriority', () => {
  test('lowers the calling worker thread and the threads it starts afterwards, not the main thread', async () => {
    // GIVEN a worker thread that lowers itself to nice 10, then starts a thread of its own (as an
    // inference worker then creates onnxruntime's threads), which stays alive to be looked at
    const module = path.resolve(__dirname, '../../serving-image/src/engine/thread-priority.ts');
    const source = `
      const { parentPort, Worker } = require('node:worker_threads');
      const { readlinkSync } = require('node:fs');
      const { lowerThreadPriority } = require(${JSON.stringify(module.replace(/\.ts$/, ''))});
      const tid = () => readlinkSync('/proc/thread-self').split('/').pop();
      const lowered = lowerThreadPriority(10);
      const child = new Worker("require('node:worker_threads').parentPort.postMessage(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop()); setInterval(() => {}, 1000)", { eval: true });
      child.once('message', (childTid) => parentPort.postMessage({ lowered, tid: tid(), childTid }));
    `;
    // WHEN it runs
    const worker = new Worker(source, {
      eval: true,
      execArgv: ['-r', require.resolve('ts-node/register/transpile-only')],
    });
    const result = await new Promise<{ lowered: boolean; tid: string; childTid: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    // THEN the worker and the thread it started run at nice 10, the main thread at its own
    const task = (tid: string) => `/proc/${process.pid}/task/${tid}/stat`;
    expect(result.lowered).toBe(true);
    expect(niceOf(task(result.tid))).toBe(10);
    expect(niceOf(task(result.childTid))).toBe(10);
    expect(niceOf('/proc/thread-self/stat')).toBe(getPriority());
    await worker.terminate();
  });
});
