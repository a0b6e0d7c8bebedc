/** Runs `run(0)` .. `run(count - 1)`, at most `concurrency` at a time, in index order of starting. */
export const inBatches = async (count: number, concurrency: number, run: (index: number) => Promise<unknown>) => {
  let next = 0
  const worker = async () => {
    while (next < count) await run(next++)
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}
