/**
 * A directory's fsync, shared by the callers that need it at the same time
 * (group commit): a caller whose changes (a new link, a rename) were made
 * before a flush started is served by it; one that asks while a flush is
 * running waits for the next one, which starts as soon as the running one
 * ends and serves everyone who asked meanwhile. So many uploads finishing
 * together cost a few directory flushes instead of one each, and each still
 * gets its answer only after a flush that began after its change.
 */
export const make = (flush: () => Promise<void>): (() => Promise<void>) => {
  let running: Promise<void> | undefined
  let next: Promise<void> | undefined
  const start = (): Promise<void> => {
    const flushing: Promise<void> = flush().finally(() => {
      if (running === flushing) running = undefined
    })
    running = flushing
    return flushing
  }
  return () => {
    if (running === undefined) return start()
    next ??= running.then(() => undefined, () => undefined).then(() => {
      next = undefined
      return start()
    })
    return next
  }
}
