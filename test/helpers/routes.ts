import type { Express } from 'express';
import type { PolicyTag } from '../../src/web/guards.js';

export interface RouteInfo {
  method: string;
  path: string;
  /** The guards found in the route's own handler stack (web/guards.ts tags them). */
  guards: PolicyTag[];
}

interface Layer {
  route?: { path: string; methods: Record<string, boolean>; stack: { handle: { policy?: PolicyTag } }[] };
  handle?: { stack?: Layer[] };
}

/** Every route of the application, read from its router (routers are mounted at the root). */
export function listRoutes(app: Express): RouteInfo[] {
  const out: RouteInfo[] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const guards = layer.route.stack.map((l) => l.handle.policy).filter((p): p is PolicyTag => !!p);
        for (const m of Object.keys(layer.route.methods)) {
          if (m === '_all') continue;
          out.push({ method: m.toUpperCase(), path: layer.route.path, guards });
        }
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return out;
}

export const routeKey = (r: { method: string; path: string }) => `${r.method} ${r.path}`;
