import type { NextFunction, Request, Response } from "express";
import type { KeyAuthenticator } from "../customers/authenticate.js";
import { UnauthorizedError } from "../errors.js";

/** Requires `Authorization: Bearer <key>` and sets req.caller. */
export function requireApiKey(authenticate: KeyAuthenticator) {
  return async (req: Request, _res: Response, next: NextFunction): Promise<void> => {
    const header = req.get("Authorization") ?? "";
    const match = /^Bearer\s+(\S{1,512})\s*$/i.exec(header);
    if (!match) throw new UnauthorizedError();
    const caller = await authenticate(match[1]);
    if (!caller) throw new UnauthorizedError("Unknown API key.");
    req.caller = caller;
    next();
  };
}
