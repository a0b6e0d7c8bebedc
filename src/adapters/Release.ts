/**
 * Frees the memory of a byte chunk that is no longer needed, now rather
 * than at V8's next collection of the generation it lives in.
 *
 * A chunk that outlives two young-generation collections (it waited in a
 * socket's queue or for the disk) is moved to the old generation, whose
 * garbage is only found by a full mark-compact. Those run rarely, so on a
 * busy upload such chunks pile up by the tens of megabytes, and each full
 * collection then costs tens of milliseconds of marking. Transferring the
 * chunk's ArrayBuffer detaches it: the old object keeps no memory, and the
 * memory moves to a new, young ArrayBuffer that nothing references, which
 * the next (cheap, frequent) young collection frees.
 *
 * Only a chunk that spans its whole ArrayBuffer is released: a view into a
 * shared buffer (Node's pooled small buffers, a slice of a socket read)
 * could share it with bytes still in use. The caller must own the chunk,
 * and nothing may keep a view of it: once released it reads as empty.
 */
export const release = (bytes: Uint8Array): void => {
  const buffer = bytes.buffer
  if (buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength && bytes.byteLength > 0) {
    try {
      structuredClone(buffer, { transfer: [buffer] })
    } catch {
      // Node >= 21 refuses to transfer a buffer marked untransferable (Node 20 copies it): the GC frees it then.
    }
  }
}
