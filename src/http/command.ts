import type { Request, Response } from "express";
import type { DataSource, EntityManager } from "typeorm";
import { callerScope } from "../auth/caller.js";
import { IdempotencyKeyMissingError } from "../errors.js";
import {
  executeCommand,
  type IdempotencyContext,
  type RecoveryPoint,
  type ResumeCommand,
  type StoredResponse,
} from "../idempotency/execute-command.js";

export type { StoredResponse };

import { requestFingerprint } from "../idempotency/fingerprint.js";
import { callerOf } from "./validate.js";

const KEY_PATTERN = /^[\x20-\x7e]{1,255}$/;

/** The Idempotency-Key context of a request: scope (caller), key and request fingerprint. */
export function idempotencyOf(req: Request, required: boolean): IdempotencyContext | undefined {
  const key = req.get("Idempotency-Key");
  if (key === undefined) {
    if (required) throw new IdempotencyKeyMissingError();
    return undefined;
  }
  if (!KEY_PATTERN.test(key)) throw new IdempotencyKeyMissingError();
  const path = req.originalUrl.split("?")[0];
  return { scope: callerScope(callerOf(req)), key, fingerprint: requestFingerprint(req.method, path, req.body) };
}

export function sendStored(res: Response, response: StoredResponse, replayed: boolean): void {
  for (const [k, v] of Object.entries(response.headers)) res.setHeader(k, v);
  if (replayed) res.setHeader("Idempotent-Replayed", "true");
  res.status(response.status);
  if (response.body === undefined || response.body === null) res.end();
  else if (!res.getHeader("Content-Type")) res.json(response.body);
  else res.send(JSON.stringify(response.body));
}

export const created = (body: unknown, location: string, version?: number): StoredResponse => ({
  status: 201,
  body,
  headers: { Location: location, ...(version !== undefined ? { ETag: `"${version}"` } : {}) },
});

export const ok = (body: unknown, version?: number): StoredResponse => ({
  status: 200,
  body,
  headers: version !== undefined ? { ETag: `"${version}"` } : {},
});

export type CommandOptions = {
  keyRequired: boolean;
  /**
   * Top-level response members that hold a secret shown once (`apiKey`, an
   * endpoint's `secret`): sent in the first answer, stored as null, so a
   * replay answers them null.
   */
  secretMembers?: readonly string[];
};

/**
 * Runs a mutating POST: validation has already happened in the route; this
 * applies the Idempotency-Key (required or optional), runs `work` in its
 * transaction and sends the result, first or replayed. A command that calls
 * the outside world returns a RecoveryPoint from `work` and passes `resume`
 * (execute-command.ts).
 */
export function commandHandler(ds: DataSource, idempotencyTtlHours: number) {
  return async (
    req: Request,
    res: Response,
    options: CommandOptions,
    work: (m: EntityManager) => Promise<StoredResponse | RecoveryPoint>,
    resume?: ResumeCommand,
  ): Promise<void> => {
    const idempotency = idempotencyOf(req, options.keyRequired);
    const { response, replayed } = await executeCommand(ds, idempotency, idempotencyTtlHours, work, {
      resume,
      secretMembers: options.secretMembers,
    });
    sendStored(res, response, replayed);
  };
}
export type RunCommand = ReturnType<typeof commandHandler>;
