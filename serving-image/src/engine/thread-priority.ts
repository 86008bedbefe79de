import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Lowers the calling thread's scheduling priority to the given nice value, and with it that of
 * every thread it creates afterwards (Linux threads inherit their creator's nice value, and nice
 * is per thread: https://man7.org/linux/man-pages/man7/sched.7.html, "NOTES"). An inference
 * worker calls it before creating its session, so onnxruntime's intra-op threads are lowered too,
 * while the main thread (HTTP, `/health`) and libuv's pool (image decoding) keep theirs: when the
 * cores are busy, the kernel then runs a health check or a new request's decoding first instead of
 * letting it wait behind a `session.run`. The cores stay as busy as before; only the order changes.
 * Raising a nice value needs no privilege.
 * @returns false where it cannot be done (not Linux, no /proc): the thread keeps its priority
 */
export function lowerThreadPriority(nice: number): boolean {
  if (process.platform !== 'linux' || nice === 0) return false;
  try {
    // "/proc/thread-self" links to "<pid>/task/<tid>"; setpriority(PRIO_PROCESS, tid) sets that thread alone.
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}
