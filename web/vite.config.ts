// The config page: plain TypeScript, built into dist/web and served by @fastify/static.
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    // No inline polyfill: the CSP allows only this box's own script files.
    modulePreload: { polyfill: false },
    target: 'es2022',
  },
});
