import {
  decodeOutput,
  detectLayout,
  iou,
  letterbox,
  nms,
  type RawDetection,
  roundHalfEven,
  unletterboxBox,
} from '../../serving-image/src/postprocess';

const ALL = { confidence: 0.25, iou: 0.45, maxDetections: 300 };
const det = (
  classId: number,
  confidence: number,
  xmin: number,
  ymin: number,
  xmax: number,
  ymax: number,
): RawDetection => ({ classId, confidence, box: { xmin, ymin, xmax, ymax } });

describe('letterbox geometry (Ultralytics LetterBox)', () => {
  test('a 1280x720 image into 640x640 is halved and padded 140 above and below', () => {
    // GIVEN zidane.jpg's size WHEN letterboxed THEN scale 0.5, 640x360, 140 px bands
    expect(letterbox(1280, 720, 640, 640)).toEqual({
      scale: 0.5,
      width: 640,
      height: 360,
      top: 140,
      bottom: 140,
      left: 0,
      right: 0,
    });
  });

  test('a portrait 810x1080 image is padded 80 left and right', () => {
    // GIVEN bus.jpg's size WHEN letterboxed THEN 480x640 with 80 px on each side
    const lb = letterbox(810, 1080, 640, 640);
    expect([lb.width, lb.height, lb.left, lb.right, lb.top, lb.bottom]).toEqual([480, 640, 80, 80, 0, 0]);
  });

  test('odd padding puts the smaller half on top, as round(dh - 0.1) does', () => {
    // GIVEN 100x51 into 64x64: scale 0.64, height round(32.64) = 33, dh = 15.5
    const lb = letterbox(100, 51, 64, 64);
    // THEN top = round(15.4) = 15 and bottom = round(15.6) = 16
    expect([lb.height, lb.top, lb.bottom]).toEqual([33, 15, 16]);
  });

  test('a resized size ending in .5 rounds half to even, as Python round() does', () => {
    // GIVEN 1280x853 into 640x640: height 853 * 0.5 = 426.5
    const lb = letterbox(1280, 853, 640, 640);
    // THEN height round(426.5) = 426 (not 427), dh = 107, so 107 px above and below
    expect([lb.height, lb.top, lb.bottom]).toEqual([426, 107, 107]);
    // AND the helper matches Python on both parities and away from halves
    expect([0.5, 1.5, 2.5, -1.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, -2, 2, 3]);
  });

  test('a small image is scaled up', () => {
    // GIVEN 32x32 into 64x64 THEN scale 2 and no padding
    expect(letterbox(32, 32, 64, 64)).toMatchObject({ scale: 2, width: 64, height: 64, top: 0, left: 0 });
  });

  test('boxes map back to original pixels and are clipped to the image', () => {
    // GIVEN zidane's letterbox
    const lb = letterbox(1280, 720, 640, 640);
    // WHEN a model-space box is mapped back THEN padding is removed and the scale undone
    expect(unletterboxBox({ xmin: 100, ymin: 150, xmax: 200, ymax: 300 }, lb, 1280, 720)).toEqual({
      xmin: 200,
      ymin: 20,
      xmax: 400,
      ymax: 320,
    });
    // AND a box reaching into the padding and past the edge is clipped
    expect(unletterboxBox({ xmin: -10, ymin: 100, xmax: 700, ymax: 600 }, lb, 1280, 720)).toEqual({
      xmin: 0,
      ymin: 0,
      xmax: 1280,
      ymax: 720,
    });
  });
});

describe('NMS', () => {
  test('iou of two 10x10 boxes overlapping by half is 1/3', () => {
    expect(iou({ xmin: 0, ymin: 0, xmax: 10, ymax: 10 }, { xmin: 5, ymin: 0, xmax: 15, ymax: 10 })).toBeCloseTo(
      50 / 150,
    );
  });

  test('drops a lower-scoring overlapping box of the same class only', () => {
    // GIVEN two same-class boxes with IoU 0.68, one other-class box on top of them, and a far box
    const dets = [
      det(0, 0.8, 1, 0, 11, 10),
      det(0, 0.9, 0, 0, 10, 10),
      det(1, 0.7, 0, 0, 10, 10),
      det(0, 0.6, 50, 50, 60, 60),
    ];
    // WHEN suppressed at 0.45
    const kept = nms(dets, 0.45, 300);
    // THEN the 0.8 box is gone, the other class and the far box stay, highest score first
    expect(kept.map((d) => d.confidence)).toEqual([0.9, 0.7, 0.6]);
  });

  test('keeps an overlapping box when the IoU is at or below the threshold', () => {
    // GIVEN IoU 1/3 WHEN the threshold is 0.5 THEN both stay
    expect(nms([det(0, 0.9, 0, 0, 10, 10), det(0, 0.8, 5, 0, 15, 10)], 0.5, 300)).toHaveLength(2);
  });

  test('stops at maxDetections', () => {
    expect(
      nms([det(0, 0.9, 0, 0, 1, 1), det(0, 0.8, 5, 5, 6, 6), det(0, 0.7, 9, 9, 10, 10)], 0.45, 2).map(
        (d) => d.confidence,
      ),
    ).toEqual([0.9, 0.8]);
  });
});

describe('output layouts', () => {
  test('tells YOLOv8 from end-to-end outputs by shape', () => {
    expect(detectLayout([1, 84, 8400])).toEqual({ kind: 'yolov8', classes: 80, anchors: 8400 });
    expect(detectLayout([1, 300, 6])).toEqual({ kind: 'end2end', rows: 300 });
    expect(detectLayout([2, 7, 8])).toEqual({ kind: 'yolov8', classes: 3, anchors: 8 });
    // YOLOX's raw grid output must not be misread as 3545 classes over 85 anchors
    expect(() => detectLayout([1, 3549, 85])).toThrow(/unsupported model output shape \[1, 3549, 85\]/);
    expect(() => detectLayout([1, 1000])).toThrow(/unsupported model output shape \[1, 1000\]/);
  });

  test('decodes [1, 4+C, A]: best class per anchor, confidence filter, centre boxes to corners', () => {
    // GIVEN 2 classes, 3 anchors, rows cx, cy, w, h, score0, score1 (each row holds the 3 anchors)
    const data = Float32Array.from(
      [
        [10, 50, 90],
        [10, 50, 90],
        [4, 10, 2],
        [6, 10, 2],
        [0.9, 0.1, 0.2],
        [0.3, 0.8, 0.1],
      ].flat(),
    );
    // WHEN decoded at confidence 0.25
    const out = decodeOutput(data, { kind: 'yolov8', classes: 2, anchors: 3 }, 0, ALL);
    // THEN anchor 0 is class 0, anchor 1 class 1, anchor 2 (best 0.2) is dropped
    expect(out).toEqual([
      det(0, expect.closeTo(0.9) as unknown as number, 8, 7, 12, 13),
      det(1, expect.closeTo(0.8) as unknown as number, 45, 45, 55, 55),
    ]);
  });

  test('decodes the second image of a batch and honours the class filter', () => {
    // GIVEN a batch of 2 with 1 class-pair anchor each; image 1 scores class 0 at 0.5, class 1 at 0.7 (best)
    const img0 = [1, 1, 1, 1, 0.9, 0.9];
    const img1 = [20, 20, 10, 10, 0.5, 0.7];
    const data = Float32Array.from([...img0, ...img1]);
    const layout = { kind: 'yolov8', classes: 2, anchors: 1 } as const;
    // WHEN image 1 is decoded keeping class 0 only THEN nothing is returned: its best class over all
    // classes is 1 (Ultralytics takes the argmax first, then filters), not a weak class 0
    expect(decodeOutput(data, layout, 1, { ...ALL, classes: [0] })).toEqual([]);
    // AND keeping class 1 returns it at its own score
    expect(decodeOutput(data, layout, 1, { ...ALL, classes: [1] })).toEqual([
      det(1, expect.closeTo(0.7) as unknown as number, 15, 15, 25, 25),
    ]);
  });

  test('decodes [1, N, 6] end-to-end rows without NMS', () => {
    // GIVEN two overlapping same-class rows and one below the threshold
    const data = Float32Array.from([0, 0, 10, 10, 0.9, 2, 1, 1, 11, 11, 0.8, 2, 5, 5, 6, 6, 0.1, 0]);
    // WHEN decoded THEN both overlapping rows stay (the model already did NMS), the weak row is dropped
    const out = decodeOutput(data, detectLayout([1, 3, 6]), 0, ALL);
    expect(out.map((d) => [d.classId, d.box.xmin])).toEqual([
      [2, 0],
      [2, 1],
    ]);
    // AND maxDetections caps it
    expect(decodeOutput(data, detectLayout([1, 3, 6]), 0, { ...ALL, maxDetections: 1 })).toHaveLength(1);
  });
});
