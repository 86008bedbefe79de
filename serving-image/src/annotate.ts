import sharp from 'sharp';

/** A detection to draw, in original-image pixels. */
export interface Drawable {
  readonly label: string;
  readonly classId: number;
  readonly confidence: number;
  readonly bbox: { readonly xmin: number; readonly ymin: number; readonly xmax: number; readonly ymax: number };
}

// Ultralytics' default palette (first 10 colours), cycled by class id.
const PALETTE = [
  '#FF3838',
  '#FF9D97',
  '#FF701F',
  '#FFB21D',
  '#CFD231',
  '#48F90A',
  '#92CC17',
  '#3DDB86',
  '#1A9334',
  '#00D4BB',
];

/**
 * Draws boxes and labels over the (EXIF-oriented) image with an SVG overlay and encodes a JPEG.
 * @returns base64 JPEG
 */
export async function annotateImage(
  bytes: Buffer,
  width: number,
  height: number,
  detections: readonly Drawable[],
  maxPixels: number,
): Promise<string> {
  const stroke = Math.max(2, Math.round(Math.min(width, height) / 300));
  const font = Math.max(12, stroke * 6);
  const shapes = detections.map((d) => {
    const c = PALETTE[d.classId % PALETTE.length];
    const { xmin, ymin, xmax, ymax } = d.bbox;
    const text = `${escapeXml(d.label)} ${d.confidence.toFixed(2)}`;
    const ty = ymin > font + 4 ? ymin - 4 : ymin + font;
    return (
      `<rect x="${xmin}" y="${ymin}" width="${xmax - xmin}" height="${ymax - ymin}" fill="none" stroke="${c}" stroke-width="${stroke}"/>` +
      `<text x="${xmin + 2}" y="${ty}" font-family="sans-serif" font-size="${font}" fill="${c}" stroke="black" stroke-width="0.5">${text}</text>`
    );
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${shapes.join('')}</svg>`;
  const out = await sharp(bytes, { autoOrient: true, limitInputPixels: maxPixels })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .jpeg({ quality: 85 })
    .toBuffer();
  return out.toString('base64');
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
