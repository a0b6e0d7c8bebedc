#!/usr/bin/env node
// The `file-receiver` command (package.json "bin"): runs the TypeScript CLI
// with plain node, through tsx's loader (a dependency), as `npm start` does.
import { register } from "tsx/esm/api"

register()
await import("../src/cli/main.ts")
