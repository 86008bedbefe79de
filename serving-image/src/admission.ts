import { ServingError, shuttingDown } from './errors';

/** What admission asks of the pipeline it guards. */
export interface Capacity {
  /** At least one worker can take work. */
  readonly healthy: boolean;
  /** Whether `images` more images fit in the queue now. */
  hasRoom(images: number): boolean;
}

/** The server's state, as the health route reports it. */
export type HealthStatus = 'loading' | 'ready' | 'no_worker' | 'shutting_down';

/**
 * Decides which predictions the server takes on, and counts them until they are answered, so
 * that overload is refused before any work is done and SIGTERM can wait for what was accepted.
 * @typeParam T the pipeline handed to admitted predictions
 */
export class Admission<T extends Capacity> {
  private target?: T;
  private shuttingDown = false;
  /** Predictions accepted and not yet answered. */
  private active = 0;
  private idle?: () => void;
  /**
   * Requests admitted whose body is still arriving or being parsed, oldest first: each may come
   * to hold MAX_REQUEST_BYTES of memory, so there are at most `maxUploads`. They do not take queue
   * room: a client that stops sending must not keep others' images out of the queue.
   */
  private readonly uploads: Upload[] = [];
  /**
   * Images accepted and still being decoded: they count against the queue's room too, so a
   * burst of requests cannot all pass the check and hold decoded images beyond MAX_QUEUE_SIZE.
   */
  private decoding = 0;

  /**
   * @param onUploads told the number of uploads in progress whenever it changes
   * @param limits see {@link UploadLimits}
   */
  constructor(
    private readonly onUploads: (count: number) => void = () => {},
    private readonly limits: UploadLimits = { maxUploads: Number.POSITIVE_INFINITY, minUploadAgeMs: 1000 },
  ) {}

  /** The model is loaded and warm: predictions are admitted to `target`. */
  open(target: T): void {
    this.target = target;
  }

  /** Predictions accepted and not yet answered. */
  get pending(): number {
    return this.active;
  }

  get health(): HealthStatus {
    if (this.shuttingDown) return 'shutting_down';
    if (!this.target) return 'loading';
    // Every worker is down (being replaced, or failing to start).
    return this.target.healthy ? 'ready' : 'no_worker';
  }

  /**
   * Checks that `images` more images can be taken now, without taking them.
   * @throws ServingError SHUTTING_DOWN, NOT_READY, WORKER_FAILED or QUEUE_FULL
   */
  admit(images: number): T {
    if (this.shuttingDown) throw shuttingDown();
    if (!this.target) throw new ServingError('NOT_READY', 'the model is still loading');
    if (!this.target.healthy)
      throw new ServingError('WORKER_FAILED', 'no inference worker is ready (one is being replaced); retry');
    if (!this.target.hasRoom(this.decoding + images))
      throw new ServingError('QUEUE_FULL', 'the inference queue is full (MAX_QUEUE_SIZE); retry later');
    return this.target;
  }

  /**
   * Admits a request whose body has not arrived yet: it holds one of the `maxUploads` slots until
   * the returned function (which may be called any number of times) gives it back. When every
   * slot is taken, the oldest upload that has lasted `minUploadAgeMs` is cut (`cut` is called on
   * it; it must end that request and give its slot back), so that clients that stop sending
   * cannot keep everyone else's uploads out.
   * @param cut ends this upload's request when a newer one needs its slot
   * @throws ServingError as {@link admit}; QUEUE_FULL when every slot holds a recent upload
   */
  holdUpload(cut: () => void, now = Date.now()): () => void {
    this.admit(1);
    if (this.uploads.length >= this.limits.maxUploads) {
      const oldest = this.uploads[0];
      if (now - oldest.since < this.limits.minUploadAgeMs)
        throw new ServingError(
          'QUEUE_FULL',
          `${this.uploads.length} request bodies are arriving (MAX_UPLOADS); retry later`,
        );
      this.release(oldest);
      oldest.cut();
    }
    const upload: Upload = { since: now, cut };
    this.uploads.push(upload);
    this.onUploads(this.uploads.length);
    return once(() => this.release(upload));
  }

  /**
   * Admits a prediction of `images` images and runs it; {@link drain} waits for it. Its images
   * hold queue room until `work` calls `decoded` (or ends).
   * @throws ServingError as {@link admit}, before `work` starts
   */
  async run<R>(images: number, work: (target: T, decoded: () => void) => Promise<R>): Promise<R> {
    const target = this.admit(images);
    this.active++;
    this.decoding += images;
    const decoded = once(() => (this.decoding -= images));
    try {
      return await work(target, decoded);
    } finally {
      decoded();
      this.active--;
      if (this.active === 0) this.idle?.();
    }
  }

  /**
   * Refuses every new prediction from now on; resolves once every prediction already admitted
   * has been answered.
   */
  drain(): Promise<void> {
    this.shuttingDown = true;
    return this.active === 0 ? Promise.resolve() : new Promise((resolve) => (this.idle = resolve));
  }

  private release(upload: Upload): void {
    const i = this.uploads.indexOf(upload);
    if (i < 0) return;
    this.uploads.splice(i, 1);
    this.onUploads(this.uploads.length);
  }
}

/** Bounds of the request bodies arriving at once. */
export interface UploadLimits {
  /** Most uploads in progress (MAX_UPLOADS). */
  readonly maxUploads: number;
  /** An upload younger than this is never cut to make room for a newer one. */
  readonly minUploadAgeMs: number;
}

interface Upload {
  readonly since: number;
  readonly cut: () => void;
}

/** `fn`, run on the first call only: room is given back once, whichever event comes first. */
function once(fn: () => void): () => void {
  let pending = true;
  return () => {
    if (pending) fn();
    pending = false;
  };
}
