process.env.MFABOX_BENCH_ONLY = 'ours'; process.env.MFABOX_BENCH_BURST = '40';
const m = await import('./test/bench/modem.bench.ts');
const c0 = process.cpuUsage(); const t0 = performance.now();
await m.run();
const c = process.cpuUsage(c0);
console.log('cpu ms total', ((c.user + c.system) / 1000).toFixed(0), 'wall', (performance.now() - t0).toFixed(0), 'per SMS approx', ((c.user + c.system) / 1000 / 45).toFixed(2));
