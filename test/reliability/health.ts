/** The running box's health model, read as monitoring would: GET /api/health with the read-only token. */
import { MONITOR_TOKEN, type Box } from './harness.ts';

export async function boxHealth(box: Box): Promise<unknown> {
  const res = await fetch(`${box.webUrl}/api/health`, {
    headers: { authorization: `Bearer ${MONITOR_TOKEN}` },
  });
  if (!res.ok) throw new Error(`GET /api/health: ${res.status} ${await res.text()}`);
  return res.json();
}
