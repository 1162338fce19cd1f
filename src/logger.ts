import { type Logger, pino } from "pino";

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: "orderlock" }, timestamp: pino.stdTimeFunctions.isoTime });
}
