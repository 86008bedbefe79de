import { ensureServingImageBuilt } from './helpers/build';

/** Builds serving-image/dist once per jest run: inference worker threads load compiled JavaScript. */
export default function globalSetup(): void {
  ensureServingImageBuilt();
}
