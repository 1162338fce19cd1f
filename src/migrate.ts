import { loadConfig } from "./config.js";
import { openDatabase } from "./db/open-database.js";
import { createLogger } from "./logger.js";

/** `npm run db:migrate`: apply pending migrations and exit. */
const config = loadConfig();
const logger = createLogger(config.logLevel);
const db = await openDatabase(config, logger);
await db.close();
logger.info("migrations are up to date");
