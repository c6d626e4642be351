import sharp from 'sharp';

/** A decoded RGBA image, for checking what a screenshot shows. */
export class RgbaImage {
  constructor(
    readonly width: number,
    readonly height: number,
    readonly data: Uint8Array,
  ) {}

  /** Sub-image of the given pixel rectangle (clamped to the image). */
  crop(x: number, y: number, w: number, h: number): RgbaImage {
    const x0 = Math.max(0, x);
    const y0 = Math.max(0, y);
    const x1 = Math.min(this.width, x + w);
    const y1 = Math.min(this.height, y + h);
    const out = new Uint8Array((x1 - x0) * (y1 - y0) * 4);
    for (let row = y0; row < y1; row++) {
      out.set(this.data.subarray((row * this.width + x0) * 4, (row * this.width + x1) * 4), (row - y0) * (x1 - x0) * 4);
    }
    return new RgbaImage(x1 - x0, y1 - y0, out);
  }

  /** Standard deviation over R, G, B values (0–255): 0 for a flat colour. */
  std(): number {
    let s = 0;
    let sq = 0;
    let n = 0;
    for (let i = 0; i < this.data.length; i += 4) {
      for (let k = 0; k < 3; k++) {
        s += this.data[i + k]!;
        sq += this.data[i + k]! ** 2;
        n++;
      }
    }
    const m = s / n;
    return Math.sqrt(Math.max(0, sq / n - m * m));
  }
}

/** Decode a PNG (e.g. a Playwright screenshot) to RGBA. */
export async function decodePng(png: Uint8Array): Promise<RgbaImage> {
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return new RgbaImage(info.width, info.height, new Uint8Array(data.buffer, data.byteOffset, data.length));
}
