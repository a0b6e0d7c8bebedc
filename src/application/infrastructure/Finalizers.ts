/**
 * Finalizers for what every connection and upload acquires: cheaper
 * equivalents of `Effect.addFinalizer` and `Effect.acquireRelease`.
 *
 * Effect's own versions remember the fiber's FiberRefs and services when the
 * finalizer is added and, when it runs, diff them against the closing
 * fiber's and patch them in and out again. Each run copies those maps (and
 * the services map once per service that differs): a connection's six
 * finalizers made a third of all the server's allocations in a run of small
 * uploads. These add the finalizer to the scope itself, so it runs in the
 * context of the fiber that closes the scope: for a connection that is the
 * connection's own fiber, with the same services and log annotations.
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
