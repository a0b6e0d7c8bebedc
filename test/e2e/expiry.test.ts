/**
 * End to end: the expiry sweep of the real server (a child process, as
 * `npm start` runs it) against a partial file the filesystem refuses to
 * delete (`chattr +i`: as root, plain permissions would not stop unlink).
 * Needs a filesystem with the immutable attribute (ext4, xfs, btrfs) and
 * root; elsewhere the test is skipped with a message.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import * as Process from "../support/process.js"
import { chunk, connect, eventually, listDirectory, meta } from "../support/server.js"

const chattr = (flag: "+i" | "-i", file: string) => spawnSync("chattr", [flag, file], { encoding: "utf8" })

/** Whether files under `directory` can be made immutable here. */
const immutableFilesWork = async (directory: string): Promise<boolean> => {
  const probe = path.join(directory, "probe")
  await fs.writeFile(probe, "")
  const works = chattr("+i", probe).status === 0
  chattr("-i", probe)
  await fs.rm(probe)
  if (!works) console.warn("[file-receiver tests] chattr +i does not work here: skipping the undeletable-file expiry test")
  return works
}

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

describe("expiry of an upload whose partial file cannot be deleted", () => {
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  it("is reported expired once, after the file could be deleted; the failure is logged once", async (context) => {
    const directory = await fs.mkdtemp(path.join(os.tmpdir(), "fr-expiry-"))
    cleanups.push(() => fs.rm(directory, { recursive: true, force: true }))
    if (!(await immutableFilesWork(directory))) return context.skip()

    const child = await Process.start({ FILE_SAVE_DIRECTORY: directory, UPLOAD_EXPIRY: "2" })
    cleanups.push(async () => {
      child.kill("SIGTERM")
      await child.exited
    })
    const client = await connect(`ws://127.0.0.1:${child.port}/ws/file-transfer/`)
    client.send(meta("held.txt", 10))
    expect((await client.next()).type).toBe("meta_received")
    client.send(chunk(Buffer.from("abc")))
    expect((await client.next()).type).toBe("chunk_received")
    client.close()
    await client.closed

    const [partialName] = (await listDirectory(directory)).filter((name) => name.endsWith(".part"))
    expect(partialName).toBeDefined()
    const partial = path.join(directory, partialName!)
    expect(chattr("+i", partial).status).toBe(0)
    cleanups.push(async () => void chattr("-i", partial))

    // Expired after 2 s, swept every 0.5 s: about ten sweeps meet the undeletable file.
    await sleep(6_000)
    expect(await listDirectory(directory)).toContain(partialName)
    expect(chattr("-i", partial).status).toBe(0)
    await eventually(async () => expect(await listDirectory(directory)).not.toContain(partialName), 5_000)
    await sleep(1_500)
    child.kill("SIGTERM")
    const { output } = await child.exited

    const lines = output.split("\n")
    const expired = lines.filter((line) => line.includes(`message="upload event"`) && line.includes("type=upload.expired"))
    expect(expired).toHaveLength(1)
    expect(expired[0]).toContain("file_name=held.txt")
    const warnings = lines.filter((line) => line.includes("could not remove"))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/level=WARN .*leftover="partial data".*EPERM/)
    // The event comes after the warning, once the file is gone; the late success is logged at info.
    expect(lines.indexOf(expired[0]!)).toBeGreaterThan(lines.indexOf(warnings[0]!))
    expect(output).toMatch(/level=INFO .*message="expired upload removed after failed attempts".*attempts=\d+/)
    // Logs never carry an upload's id.
    expect(output).not.toContain(partialName!.slice(1, -".part".length))
  }, 60_000)
})
