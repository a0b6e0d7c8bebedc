/** The DeliveryStore contract against the in-memory store and the journal file. */
import { Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as FsDeliveryJournal from "../../../src/adapters/fs/FsDeliveryJournal.js"
import { layerMemory } from "../../../src/adapters/webhook/DeliveryStore.js"
import { deliveryStoreContract } from "../../contracts/DeliveryStore.contract.js"

deliveryStoreContract("memory", layerMemory)

// One journal directory per test run; each test builds the layer afresh, so each reopens the file.
const directory = fs.mkdtempSync(path.join(os.tmpdir(), "fr-journal-contract-"))
deliveryStoreContract("journal", Layer.suspend(() => FsDeliveryJournal.layer(directory)))
