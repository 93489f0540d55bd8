import { SubmitJournal } from './firmware/src/dispatch/submit-journal.ts';
if (process.argv[2] === 'nomark') SubmitJournal.prototype.mark = function () {};
process.env.MFABOX_BENCH_ONLY = 'ours'; process.env.MFABOX_BENCH_BURST = '40';
const m = await import('./test/bench/modem.bench.ts');
await m.run();
