import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Server logs are kept per test and printed only when it fails (test/support/serverLogs.ts).
    setupFiles: ["test/support/setup.ts"],
    env: {
      // The AWS SDK warns once per process that it will drop Node 20 (the tests' Node); the image runs Node 24.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true"
    },
    // Lists tests slower than 2 s; at the default 300 ms it listed most end-to-end tests (servers, processes).
    slowTestThreshold: 2_000,
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
