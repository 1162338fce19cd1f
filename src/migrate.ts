import { loadConfig } from "./config.js";
import { openDatabase } from "./db/open-database.js";
import { chooseLogFormat, createLogger } from "./logger.js";

/** `npm run db:migrate`: apply pending migrations and exit. */
const config = loadConfig();
const logger = await createLogger(config.logLevel, chooseLogFormat(config.logFormat, Boolean(process.stdout.isTTY)));
const db = await openDatabase(config, logger);
await db.close();
logger.info("migrations are up to date");
