/**
 * Bounds the decoded pixels in flight: an image takes its width x height (read from its header,
 * before any pixel is decoded) out of the budget while it is decoded and resized, and waits, in
 * arrival order, while the budget cannot hold it. Memory for decoding is then about the budget
 * times a few bytes per pixel (RGB or RGBA, plus libvips' working copies), whatever the mix of
 * requests, instead of MAX_QUEUE_SIZE x MAX_IMAGE_PIXELS.
 */
export class PixelBudget {
  private used = 0;
  private readonly waiting: { pixels: number; grant: () => void }[] = [];

  /** @param capacity most pixels in flight; an image larger than it is let through alone */
  constructor(readonly capacity: number) {}

  /** Pixels taken now. */
  get inUse(): number {
    return this.used;
  }

  /** Resolves, once `pixels` fit, with the function that gives them back (idempotent). */
  async acquire(pixels: number): Promise<() => void> {
    // Capped at the capacity, so that an image larger than the budget still runs (alone).
    const n = Math.min(Math.max(0, pixels), this.capacity);
    if (this.waiting.length > 0 || this.used + n > this.capacity)
      await new Promise<void>((grant) => this.waiting.push({ pixels: n, grant }));
    else this.used += n;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.used -= n;
      this.grantWaiting();
    };
  }

  /** First come, first served: a large image is not overtaken forever by small ones. */
  private grantWaiting(): void {
    while (this.waiting.length > 0 && this.used + this.waiting[0].pixels <= this.capacity) {
      const next = this.waiting.shift()!;
      this.used += next.pixels;
      next.grant();
    }
  }
}
