import { Effect, HashMap, Layer } from "effect"
import { layerMemory, MemoryFiles } from "../../../src/adapters/memory/MemoryFileStore.js"
import { fileStoreContract, StoreInspector } from "../../contracts/FileStore.contract.js"

const inspector = Layer.effect(
  StoreInspector,
  Effect.map(MemoryFiles, (files) =>
    StoreInspector.of({
      visible: Effect.map(files.committed, (map) => [...HashMap.keys(map)].sort()),
      read: (name) => Effect.map(files.committed, (map) => HashMap.get(map, name).pipe((o) => (o._tag === "Some" ? o.value : undefined))),
      partials: files.openPartials
    }))
)

fileStoreContract("memory", Layer.provideMerge(inspector, layerMemory))
