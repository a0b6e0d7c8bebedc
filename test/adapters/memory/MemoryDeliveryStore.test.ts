/** The DeliveryStore contract against the in-memory store. */
import { layerMemory } from "../../../src/adapters/memory/MemoryDeliveryStore.js"
import { deliveryStoreContract } from "../../contracts/DeliveryStore.contract.js"

deliveryStoreContract("memory", layerMemory)
