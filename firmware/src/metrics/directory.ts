/**
 * Times the directory calls the engine makes, per DC: the DC is the one the directory reports
 * in use when the call ends (the failover picks it), so a slow or failing DC shows under its
 * own name. Wraps the Directory seam; the directory itself knows nothing of metrics.
 */
import type { Directory } from '../directory/directory.ts';

export type DirectoryObserver = (server: string, operation: string, ms: number, error?: string) => void;

export function instrumentDirectory(d: Directory, observe: DirectoryObserver): Directory {
  const server = (): string => d.health().server ?? 'none';
  const timed = async <T>(
    op: string,
    call: () => Promise<T>,
    errorOf: (r: T) => string | undefined,
  ): Promise<T> => {
    const t0 = performance.now();
    try {
      const r = await call();
      observe(server(), op, performance.now() - t0, errorOf(r));
      return r;
    } catch (e) {
      observe(server(), op, performance.now() - t0, 'failed');
      throw e;
    }
  };
  const wrapped: Directory = {
    verifyPassword: (u, p) =>
      timed(
        'verify-password',
        () => d.verifyPassword(u, p),
        (r) => (!r.ok && r.reason === 'unavailable' ? 'unavailable' : undefined),
      ),
    findUser: (u) =>
      timed(
        'find-user',
        () => d.findUser(u),
        () => undefined,
      ),
    listGroupMembers: (g) => d.listGroupMembers(g),
    health: () => d.health(),
    close: () => d.close(),
  };
  const pages = d.listGroupMemberPages?.bind(d);
  if (pages) wrapped.listGroupMemberPages = (g) => pages(g);
  return wrapped;
}
