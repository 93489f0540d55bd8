/**
 * The bundle's identity: scripts/build.mjs writes the SHA-256 of the bundle it built into the
 * bundle itself (esbuild `define`, then the placeholder is replaced by the file's hash). Run from
 * the TypeScript sources (tsx, the tests) or from tsc's output there is none: undefined.
 */
declare const __MFABOX_BUILD_ID__: string | undefined;

export const buildId: string | undefined =
  typeof __MFABOX_BUILD_ID__ === 'string' ? __MFABOX_BUILD_ID__ : undefined;
