import { type Logger, pino } from "pino";

/** How log lines look: one JSON object per line (for machines), or pino-pretty's coloured lines (for a person at a terminal). */
export type LogFormat = "json" | "pretty";

/**
 * LOG_FORMAT decides when it is set; unset, a terminal gets pretty lines and
 * anything else (a pipe, a file, a log collector) gets JSON.
 */
export function chooseLogFormat(requested: LogFormat | undefined, stdoutIsTty: boolean): LogFormat {
  return requested ?? (stdoutIsTty ? "pretty" : "json");
}

/**
 * The process logger. pino-pretty is imported only for the pretty format, so
 * a JSON process never loads it. It writes synchronously, so the last lines
 * before process.exit() are not lost (it is meant for a person's terminal,
 * not for throughput).
 */
export async function createLogger(level: string, format: LogFormat = "json"): Promise<Logger> {
  const options = { level, base: { service: "orderlock" }, timestamp: pino.stdTimeFunctions.isoTime };
  if (format === "json") return pino(options);
  const { default: pretty } = await import("pino-pretty");
  return pino(options, pretty({ sync: true, colorize: Boolean(process.stdout.isTTY), ignore: "service" }));
}
