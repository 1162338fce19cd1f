import http from "node:http";
import type { AddressInfo } from "node:net";
import { verifyStandardWebhook } from "../../bench/deliveries.js";

/** One request the receiver got, with its Standard Webhooks verdict. */
export type Received = {
  webhookId: string;
  timestamp: number;
  body: { id: string; type: string; data: { object: { id: string; version: number } } };
  rawBody: string;
  signatureValid: boolean;
  answered: number | "hung";
  atMs: number;
};

/**
 * A local webhook receiver on 127.0.0.1. `answer(attemptOfThisId, r)` picks
 * the status to answer, or "hang" to never answer.
 */
export async function startReceiver(answer: (attempt: number, r: Omit<Received, "answered">) => number | "hang" = () => 200) {
  let secret = "";
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const rawBody = Buffer.concat(chunks).toString("utf8");
      const webhookId = String(req.headers["webhook-id"] ?? "");
      const timestamp = String(req.headers["webhook-timestamp"] ?? "");
      const r = {
        webhookId,
        timestamp: Number(timestamp),
        body: JSON.parse(rawBody) as Received["body"],
        rawBody,
        signatureValid: verifyStandardWebhook(secret, webhookId, timestamp, rawBody, String(req.headers["webhook-signature"] ?? "")),
        atMs: Date.now(),
      };
      const attempt = received.filter((x) => x.webhookId === webhookId).length + 1;
      const status = r.signatureValid ? answer(attempt, r) : 401;
      received.push({ ...r, answered: status === "hang" ? "hung" : status });
      if (status === "hang") return;
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    port,
    received,
    setSecret(s: string) {
      secret = s;
    },
    /** First 2xx-answered request per webhook-id, in arrival order. */
    delivered(): Received[] {
      const seen = new Set<string>();
      return received.filter((r) => typeof r.answered === "number" && r.answered < 300 && !seen.has(r.webhookId) && seen.add(r.webhookId));
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
