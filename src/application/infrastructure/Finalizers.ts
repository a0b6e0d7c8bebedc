/**
 * Infrastructure, not an idiom to copy: cheaper equivalents of
 * `Effect.addFinalizer` and `Effect.acquireRelease` for what every
 * connection and upload acquires. New code uses Effect's own
 * `acquireRelease` and `addFinalizer`; use these only where a profile shows
 * the finalizers of each connection or upload matter (see
 * docs/performance.md).
 *
 * Effect's versions capture the fiber's FiberRefs and services when the
 * finalizer is added and patch them in and out when it runs. These add the
 * finalizer to the scope itself, so it runs in the context of the fiber that
 * closes the scope: for a connection, the connection's own fiber, with the
 * same services and log annotations.
 *
 * Two differences to keep in mind: a finalizer is uninterruptible only
 * because whoever closes the scope makes it so (`Effect.scoped` and layers
 * do; a bare `Scope.close` in interruptible code would not), and
 * `acquireRelease` builds the release effect when it acquires (effects are
 * lazy, so it still runs only on close).
 */
import { Effect, Scope } from "effect"

/** Runs `finalizer` when the current scope closes. */
export const addFinalizer = (finalizer: Effect.Effect<unknown>): Effect.Effect<void, never, Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) => Scope.addFinalizer(scope, finalizer))

/** Acquires (uninterruptibly) and releases with `release` when the current scope closes. */
export const acquireRelease = <A, E, R>(
  acquire: Effect.Effect<A, E, R>,
  release: (acquired: A) => Effect.Effect<unknown>
): Effect.Effect<A, E, R | Scope.Scope> =>
  Effect.uninterruptible(Effect.tap(acquire, (acquired) => addFinalizer(release(acquired))))
