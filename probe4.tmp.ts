import { SubmitJournal } from './firmware/src/dispatch/submit-journal.ts';
const orig = SubmitJournal.prototype.mark;
const times: number[] = [];
SubmitJournal.prototype.mark = function (a: number, b: number) { const t = performance.now(); orig.call(this, a, b); times.push(performance.now() - t); };
process.env.MFABOX_BENCH_ONLY = 'ours'; process.env.MFABOX_BENCH_BURST = '40';
const m = await import('./test/bench/modem.bench.ts');
await m.run();
times.sort((a, b) => a - b);
console.log('mark ms median', times[times.length >> 1]?.toFixed(3), 'p90', times[Math.floor(times.length * 0.9)]?.toFixed(3), 'max', times[times.length - 1]?.toFixed(2));
