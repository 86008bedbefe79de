import { Admission, type Capacity } from '../../serving-image/src/admission';

/** A pipeline with room for `room` images and the switch of its health. */
function fakeCapacity(room: number): Capacity & { healthy: boolean } {
  return { healthy: true, hasRoom: (images) => images <= room };
}

/** An admission opened on a pipeline with room for `room` images. */
function opened(room: number) {
  const target = fakeCapacity(room);
  const admission = new Admission<Capacity>();
  admission.open(target);
  return { admission, target };
}

/** A promise and the function that settles it, to hold a prediction open. */
function gate(): { done: Promise<void>; open: () => void } {
  let open = () => {};
  const done = new Promise<void>((resolve) => (open = resolve));
  return { done, open };
}

describe('readiness', () => {
  test('before the model is ready, health is loading and predictions are refused NOT_READY', () => {
    // GIVEN an admission with nothing opened
    const admission = new Admission<Capacity>();
    // THEN health says loading
    expect(admission.health).toBe('loading');
    // AND a prediction is refused NOT_READY
    expect(() => admission.admit(1)).toThrow(expect.objectContaining({ code: 'NOT_READY' }));
  });

  test('once opened, health is ready and admit hands back the pipeline', () => {
    // GIVEN an admission opened on a pipeline with room
    const { admission, target } = opened(4);
    // WHEN one image is admitted THEN the pipeline is handed back
    expect(admission.admit(1)).toBe(target);
    // AND health is ready
    expect(admission.health).toBe('ready');
  });

  test('while no worker is ready, health is no_worker and predictions are refused WORKER_FAILED', () => {
    // GIVEN a pipeline whose workers are all down
    const { admission, target } = opened(4);
    target.healthy = false;
    // THEN health says so
    expect(admission.health).toBe('no_worker');
    // AND a prediction is refused WORKER_FAILED
    expect(() => admission.admit(1)).toThrow(expect.objectContaining({ code: 'WORKER_FAILED' }));
  });
});

describe('queue room', () => {
  test('a prediction larger than the room is refused QUEUE_FULL', () => {
    // GIVEN room for two images WHEN three are asked for THEN they are refused
    const { admission } = opened(2);
    expect(() => admission.admit(3)).toThrow(expect.objectContaining({ code: 'QUEUE_FULL' }));
  });

  test('an upload in progress takes no queue room', () => {
    // GIVEN room for two images and one upload in progress
    const { admission } = opened(2);
    admission.holdUpload(() => {});
    // WHEN two images are asked for THEN they still fit
    expect(() => admission.admit(2)).not.toThrow();
  });

  test('the number of uploads in progress is reported as it changes, a slot given back once however many times it is released', () => {
    // GIVEN an admission reporting uploads
    const counts: number[] = [];
    const admission = new Admission<Capacity>((n) => counts.push(n));
    admission.open(fakeCapacity(4));
    // WHEN two uploads start and one ends, released twice (onResponse and the socket's close)
    const release = admission.holdUpload(() => {});
    admission.holdUpload(() => {});
    release();
    release();
    // THEN each change was reported once
    expect(counts).toEqual([1, 2, 1]);
  });

  test('an upload arriving while the queue is full is refused and holds nothing', () => {
    // GIVEN no room at all
    const counts: number[] = [];
    const admission = new Admission<Capacity>((n) => counts.push(n));
    admission.open(fakeCapacity(0));
    // WHEN an upload starts THEN it is refused and no upload was counted
    expect(() => admission.holdUpload(() => {})).toThrow(expect.objectContaining({ code: 'QUEUE_FULL' }));
    expect(counts).toEqual([]);
  });

  test('past MAX_UPLOADS, a new upload is refused while every slot holds a recent upload', () => {
    // GIVEN two upload slots, both taken 100 ms ago, uploads cut after 1 s at the earliest
    const admission = new Admission<Capacity>(() => {}, { maxUploads: 2, minUploadAgeMs: 1000 });
    admission.open(fakeCapacity(100));
    const cuts: number[] = [];
    admission.holdUpload(() => cuts.push(1), 0);
    admission.holdUpload(() => cuts.push(2), 0);
    // WHEN a third arrives THEN it is refused QUEUE_FULL and nobody is cut
    expect(() => admission.holdUpload(() => {}, 100)).toThrow(expect.objectContaining({ code: 'QUEUE_FULL' }));
    expect(cuts).toEqual([]);
  });

  test('past MAX_UPLOADS, a new upload cuts the oldest one that has lasted long enough, so stalled clients cannot lock others out', () => {
    // GIVEN two upload slots, taken at 0 and 500 ms
    const counts: number[] = [];
    const admission = new Admission<Capacity>((n) => counts.push(n), { maxUploads: 2, minUploadAgeMs: 1000 });
    admission.open(fakeCapacity(100));
    const cuts: number[] = [];
    admission.holdUpload(() => cuts.push(1), 0);
    admission.holdUpload(() => cuts.push(2), 500);
    // WHEN a third arrives at 1200 ms THEN the first is cut and the new one admitted
    expect(() => admission.holdUpload(() => {}, 1200)).not.toThrow();
    expect(cuts).toEqual([1]);
    expect(counts.at(-1)).toBe(2);
  });

  test("a running prediction's images hold room until they are decoded", async () => {
    // GIVEN room for three images and a two-image prediction still decoding
    const { admission } = opened(3);
    const decoding = gate();
    const inference = gate();
    const running = admission.run(2, async (_target, decoded) => {
      await decoding.done;
      decoded();
      await inference.done;
    });
    // THEN two more images do not fit
    expect(() => admission.admit(2)).toThrow(expect.objectContaining({ code: 'QUEUE_FULL' }));
    // WHEN its images are decoded THEN their room is given back to admission (the queue holds them now)
    decoding.open();
    await new Promise((r) => setImmediate(r));
    expect(() => admission.admit(3)).not.toThrow();
    inference.open();
    await running;
  });

  test('a prediction that fails gives its room back', async () => {
    // GIVEN room for two images WHEN a two-image prediction fails before its images are decoded
    const { admission } = opened(2);
    await expect(
      admission.run(2, async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    // THEN two images fit again
    expect(() => admission.admit(2)).not.toThrow();
  });

  test('a prediction that is refused never runs', async () => {
    // GIVEN room for one image WHEN a two-image prediction is asked to run
    const { admission } = opened(1);
    let ran = false;
    const run = admission.run(2, async () => {
      ran = true;
    });
    // THEN it is refused QUEUE_FULL and its work never started
    await expect(run).rejects.toMatchObject({ code: 'QUEUE_FULL' });
    expect(ran).toBe(false);
  });
});

describe('draining', () => {
  test('once draining, health is shutting_down and predictions are refused SHUTTING_DOWN', async () => {
    // GIVEN a ready admission WHEN it drains
    const { admission } = opened(4);
    await admission.drain();
    // THEN health says so, and new predictions and uploads are refused
    expect(admission.health).toBe('shutting_down');
    expect(() => admission.admit(1)).toThrow(expect.objectContaining({ code: 'SHUTTING_DOWN' }));
    expect(() => admission.holdUpload(() => {})).toThrow(expect.objectContaining({ code: 'SHUTTING_DOWN' }));
  });

  test('drain waits for the predictions already admitted', async () => {
    // GIVEN a prediction running
    const { admission } = opened(4);
    const inference = gate();
    const running = admission.run(1, () => inference.done);
    // WHEN draining starts
    let drained = false;
    const drain = admission.drain().then(() => (drained = true));
    await new Promise((r) => setImmediate(r));
    // THEN it has not finished while the prediction runs
    expect(drained).toBe(false);
    // AND it finishes once the prediction is answered
    inference.open();
    await running;
    await drain;
    expect(drained).toBe(true);
  });
});
