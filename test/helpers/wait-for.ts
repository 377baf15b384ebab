/** Polls `condition` every 2 ms until it holds; fails after `timeoutMs` instead of hanging a test. */
export async function waitFor(
  condition: () => boolean,
  what = "a condition",
  timeoutMs = 3000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
