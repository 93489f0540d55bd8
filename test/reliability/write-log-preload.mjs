// Loaded into the appliance under test with `node --import`, never in production. It records, for
// every LevelDB write, which sublevels it touched and whether it asked for fsync, so the power-cut
// scenario can prove that challenge and outbox writes were durable. A `kill -9` keeps the OS page
// cache, so surviving a kill alone proves nothing about a real power loss; `sync: true` does.
//
// It wraps classic-level's native binding, not its JavaScript classes: the release bundle carries
// its own copy of classic-level's JavaScript, but both load the one binding module from
// node_modules (the bundle keeps it outside), so the same patch sees the source's and the
// bundle's writes.
import { appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const file = process.env.MFABOX_TEST_WRITE_LOG;
if (file) {
  const binding = createRequire(import.meta.url)('classic-level/binding.js');
  const sublevelOf = (key) => {
    const s = typeof key === 'string' ? key : Buffer.from(key).toString('utf8');
    const m = /^!([^!]+)!/.exec(s);
    return m ? m[1] : '';
  };
  const record = (keys, options) => {
    const subs = [...new Set(keys.map(sublevelOf))].filter(Boolean);
    if (subs.length > 0) appendFileSync(file, `${JSON.stringify({ subs, sync: options?.sync === true })}\n`);
  };
  const { db_put, db_del, batch_do, batch_init, batch_put, batch_del, batch_write } = binding;
  // The store's group commit uses a chained batch: collect its keys, record them at write.
  const batchKeys = new WeakMap();
  binding.batch_init = function (context) {
    const b = batch_init.call(this, context);
    batchKeys.set(b, []);
    return b;
  };
  binding.batch_put = function (b, key, value) {
    batchKeys.get(b)?.push(key);
    return batch_put.call(this, b, key, value);
  };
  binding.batch_del = function (b, key) {
    batchKeys.get(b)?.push(key);
    return batch_del.call(this, b, key);
  };
  binding.batch_write = function (b, options) {
    record(batchKeys.get(b)?.splice(0) ?? [], options);
    return batch_write.call(this, b, options);
  };
  binding.db_put = function (context, key, value, options) {
    record([key], options);
    return db_put.call(this, context, key, value, options);
  };
  binding.db_del = function (context, key, options) {
    record([key], options);
    return db_del.call(this, context, key, options);
  };
  binding.batch_do = function (context, operations, options) {
    record(
      operations.map((o) => o.key),
      options,
    );
    return batch_do.call(this, context, operations, options);
  };
}
