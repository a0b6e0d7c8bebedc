/**
 * Loaded before every test file (vitest.config.ts): a failed test prints the
 * server logs it kept (see serverLogs.ts); a passing one prints nothing.
 */
import { afterEach } from "vitest"
import * as ServerLogs from "./serverLogs.js"

/**
 * Effect's default logger writes each line with console.log, in logfmt
 * (`timestamp=... level=... fiber=#...`): services under test that log with it
 * (it.live tests, which keep the default logger) are kept the same way.
 */
const EFFECT_LOG_LINE = /^timestamp=\S+ level=[A-Z]+ fiber=#\d+ /
const consoleLog = console.log.bind(console)
console.log = (...args: Array<unknown>) => {
  const [line] = args
  if (!ServerLogs.live && args.length === 1 && typeof line === "string" && EFFECT_LOG_LINE.test(line)) {
    ServerLogs.keep("log", `${line}\n`)
  } else {
    consoleLog(...args)
  }
}

afterEach((context) => {
  const text = ServerLogs.keptText()
  ServerLogs.forget()
  if (context.task.result?.state === "fail" && text !== "") {
    consoleLog(`logs kept by the failed test "${context.task.name}":\n${text}`)
  }
})
